"""A few optimizer steps on the tiny model lower train and held-out loss below the base model's."""

from pathlib import Path

import pytest

from generator.ml.training import MIN_LR_RATE, FineTune
from tests.finetune_helpers import StepLog, tiny_config
from tests.tiny_model import TINY_RECORDS, build_tiny_checkpoint


def test_loss_goes_down(tmp_path: Path) -> None:
    base = build_tiny_checkpoint(tmp_path / "base")
    log = StepLog()
    config = tiny_config(steps=24, warmup=4, eval_every=12, sample_every=0, save_every=0)

    result = FineTune(
        base, TINY_RECORDS * 4, tmp_path / "run", config, callbacks=[log], show_progress=False
    ).run()

    assert log.steps == list(range(1, 25))
    assert sum(log.losses[-4:]) / 4 < sum(log.losses[:4]) / 4 - 0.5
    assert result.base_eval_loss == log.base_eval
    assert result.eval_loss is not None and result.base_eval_loss is not None
    assert result.eval_loss < result.base_eval_loss - 0.5
    assert [step for step, _ in log.evals] == [12, 24]
    assert [step for step, _ in log.samples] == [24]  # sample_every=0: only at the end
    assert result.tokens_per_second > 0
    # Linear warmup to the peak, then a cosine decay that never goes below its 10% floor.
    rates = log.learning_rates
    assert rates[:4] == sorted(rates[:4]) and rates[3] < config.lr
    assert rates[4] == pytest.approx(config.lr)
    assert rates[4:] == sorted(rates[4:], reverse=True)
    assert min(rates[4:]) >= MIN_LR_RATE * config.lr * (1 - 1e-6)
    assert rates[-1] < 0.2 * config.lr
