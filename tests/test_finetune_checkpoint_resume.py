"""A checkpoint saves, reloads with from_pretrained, and resumes as if the run was never broken."""

from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from generator.ml.checkpoints import FINAL_CHECKPOINT, RESUME_STATE, checkpoints, is_resumable
from generator.ml.format import SPECIAL_TOKENS
from generator.ml.training import FineTune, StopSignal, TrainingInterrupted
from tests.finetune_helpers import StepLog, tiny_config
from tests.tiny_model import TINY_RECORDS, build_tiny_checkpoint

RECORDS = TINY_RECORDS * 4
# Samples every 3 steps: sampling before and after the stop must not move the training RNG.
CONFIG = tiny_config(steps=8, save_every=2, eval_every=4, sample_every=3)


class StopAtStep(TrainerCallback):
    def __init__(self, step: int, stop: StopSignal) -> None:
        self.step, self.stop = step, stop

    def on_step_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: object,
    ) -> None:
        if state.global_step == self.step:
            self.stop.request("test stop")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_checkpoint_saves_reloads_and_resumes_bit_for_bit(tmp_path: Path) -> None:
    base = build_tiny_checkpoint(tmp_path / "base")
    stop = StopSignal()
    first = StepLog()

    with pytest.raises(TrainingInterrupted) as interrupted:
        FineTune(
            base,
            RECORDS,
            tmp_path / "run",
            CONFIG,
            callbacks=[first, StopAtStep(5, stop)],
            stop=stop,
            show_progress=False,
        ).run()

    checkpoint = interrupted.value.checkpoint
    assert interrupted.value.step == 5 and interrupted.value.reason == "test stop"
    assert checkpoint == tmp_path / "run" / "checkpoint-5"
    assert checkpoints(tmp_path / "run") == [checkpoint]  # step 4's was rotated away
    assert [step for step, _ in first.checkpoints] == [2, 4, 5]
    for state in (RESUME_STATE, "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        assert (checkpoint / state).is_file(), state
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    assert SPECIAL_TOKENS and set(SPECIAL_TOKENS) <= set(tokenizer.all_special_tokens)
    AutoModelForCausalLM.from_pretrained(checkpoint)

    second = StepLog()
    result = FineTune(
        checkpoint,
        RECORDS,
        tmp_path / "run",
        CONFIG,
        callbacks=[second],
        resume_from=checkpoint,
        show_progress=False,
    ).run()

    assert first.steps == [1, 2, 3, 4, 5]
    assert second.steps == [6, 7, 8]
    assert second.base_eval is None  # measured once, before the first step
    assert result.step == 8 and result.checkpoint == tmp_path / "run" / FINAL_CHECKPOINT
    assert not is_resumable(result.checkpoint)  # finished: nothing to resume
    # The resume state stays until the caller has recorded final/ (execute_run discards it).
    assert checkpoints(tmp_path / "run")

    unbroken = StepLog()
    whole = FineTune(
        base, RECORDS, tmp_path / "unbroken", CONFIG, callbacks=[unbroken], show_progress=False
    ).run()

    # Same batches, dropout masks and schedule: every number is identical, not merely close.
    assert first.losses + second.losses == unbroken.losses
    assert first.learning_rates + second.learning_rates == unbroken.learning_rates
    assert first.evals + second.evals == unbroken.evals
    assert first.samples + second.samples == unbroken.samples
    assert [step for step, _ in unbroken.samples] == [3, 6, 8]
    assert result.eval_loss == whole.eval_loss
    resumed_weights, unbroken_weights = _weights(result.checkpoint), _weights(whole.checkpoint)
    assert unbroken_weights and resumed_weights.keys() == unbroken_weights.keys()
    for name, tensor in unbroken_weights.items():
        assert torch.equal(resumed_weights[name], tensor), name
