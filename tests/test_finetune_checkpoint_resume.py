"""A checkpoint saves, reloads with from_pretrained, and resumes at the next step as if unbroken."""

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from generator.ml.format import SPECIAL_TOKENS
from generator.ml.training import (
    TRAINING_STATE,
    StopSignal,
    TrainingHooks,
    TrainingInterrupted,
    checkpoints,
    train,
)
from tests.finetune_helpers import StepLog, tiny_config
from tests.tiny_model import TINY_RECORDS, build_tiny_checkpoint

RECORDS = TINY_RECORDS * 4
CONFIG = tiny_config(steps=8, save_every=2, eval_every=4, sample_every=0)


class StopAtStep(TrainingHooks):
    def __init__(self, step: int, stop: StopSignal) -> None:
        self.step, self.stop = step, stop

    def on_step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None:
        if step == self.step:
            self.stop.request("test stop")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_checkpoint_saves_reloads_and_resumes(tmp_path: Path) -> None:
    base = build_tiny_checkpoint(tmp_path / "base")
    stop = StopSignal()
    first = StepLog()

    with pytest.raises(TrainingInterrupted) as interrupted:
        train(
            base,
            RECORDS,
            tmp_path / "run",
            CONFIG,
            hooks=[first, StopAtStep(5, stop)],
            stop=stop,
            show_progress=False,
        )

    checkpoint = interrupted.value.checkpoint
    assert interrupted.value.step == 5 and interrupted.value.reason == "test stop"
    assert checkpoint == tmp_path / "run" / "step-000005"
    assert checkpoints(tmp_path / "run") == [checkpoint]  # step 4's was superseded
    assert (checkpoint / TRAINING_STATE).is_file()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    assert all(token in tokenizer.all_special_tokens for token in SPECIAL_TOKENS)
    AutoModelForCausalLM.from_pretrained(checkpoint)

    second = StepLog()
    result = train(
        base,
        RECORDS,
        tmp_path / "run",
        CONFIG,
        hooks=[second],
        resume_from=checkpoint,
        show_progress=False,
    )

    assert first.steps == [1, 2, 3, 4, 5]
    assert second.steps == [6, 7, 8]
    assert second.base_eval is None  # measured once, before the first step
    assert result.checkpoint == tmp_path / "run" / "step-000008"
    assert not (result.checkpoint / TRAINING_STATE).exists()  # finished: nothing to resume

    unbroken = train(base, RECORDS, tmp_path / "unbroken", CONFIG, show_progress=False)
    resumed_weights, unbroken_weights = _weights(result.checkpoint), _weights(unbroken.checkpoint)
    for name, tensor in unbroken_weights.items():
        torch.testing.assert_close(resumed_weights[name], tensor, rtol=1e-5, atol=1e-6)
