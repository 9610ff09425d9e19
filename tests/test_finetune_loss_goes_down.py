"""A few optimizer steps on the tiny model lower train and held-out loss below the base model's."""

from pathlib import Path

from generator.ml.training import train
from tests.finetune_helpers import StepLog, tiny_config
from tests.tiny_model import TINY_RECORDS, build_tiny_checkpoint


def test_loss_goes_down(tmp_path: Path) -> None:
    base = build_tiny_checkpoint(tmp_path / "base")
    log = StepLog()

    result = train(
        base,
        TINY_RECORDS * 4,
        tmp_path / "run",
        tiny_config(steps=24, eval_every=12, sample_every=0, save_every=0),
        hooks=[log],
        show_progress=False,
    )

    assert log.steps == list(range(1, 25))
    assert sum(log.losses[-4:]) / 4 < sum(log.losses[:4]) / 4 - 0.5
    assert result.base_eval_loss == log.base_eval
    assert result.eval_loss is not None and result.eval_loss < result.base_eval_loss - 0.5
    assert [step for step, _ in log.evals] == [12, 24]
    assert result.tokens_per_second > 0
