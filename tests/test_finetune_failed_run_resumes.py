"""A run that raises mid-training is marked failed, keeps its checkpoint, and resumes from it."""

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.management import call_command
from transformers import (
    AutoModelForCausalLM,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from generator.finetune_execution import DatabaseRecorder, execute_run
from generator.finetune_runs import create_run
from generator.ml.checkpoints import FINAL_CHECKPOINT, checkpoints, is_resumable
from generator.models import ModelRun
from tests.finetune_helpers import FailAfterStep, add_tiny_titles, tiny_config
from tests.tiny_model import build_tiny_checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(tmp_path: Path, settings: Any) -> Path:
    settings.MODEL_DIR = tmp_path / "models"
    add_tiny_titles()
    return build_tiny_checkpoint(tmp_path / "base")


def test_a_crash_before_final_is_recorded_still_resumes_from_its_checkpoint(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = create_run(tiny_config(steps=6, save_every=4), base=str(base))

    def crash(self: DatabaseRecorder, result: object) -> None:
        raise OSError("the worker died here")

    monkeypatch.setattr(DatabaseRecorder, "record_result", crash)
    with pytest.raises(OSError):
        execute_run(run.pk, show_progress=False)

    stranded = ModelRun.objects.get(pk=run.pk)
    assert stranded.checkpoint_path.endswith("checkpoint-4")
    assert is_resumable(Path(stranded.checkpoint_path))


def test_a_run_that_raises_is_failed_keeps_its_checkpoint_and_resumes(base: Path) -> None:
    run = create_run(tiny_config(steps=8, save_every=4), base=str(base))

    failed = execute_run(
        run.pk,
        callbacks=[FailAfterStep(6, OSError("No space left on device"))],
        show_progress=False,
    )

    assert failed.status == ModelRun.Status.FAILED
    assert "OSError: No space left on device" in failed.error
    assert f"--resume {run.pk}" in failed.error
    assert failed.finished_at is not None
    assert failed.checkpoint_path.endswith("checkpoint-4")
    assert is_resumable(Path(failed.checkpoint_path))
    assert failed.step == 6 and failed.train_loss_curve[-1][0] == 6
    assert [point[0] for point in failed.eval_loss_curve] == [4]
    assert failed.base_eval_loss is not None and failed.device.startswith("CPU")

    assert ModelRun.objects.requeue(run.pk)
    done = execute_run(run.pk, show_progress=False)

    assert done.status == ModelRun.Status.DONE and done.error == ""
    assert done.step == done.total_steps == 8
    assert [point[0] for point in done.train_loss_curve] == list(range(1, 9))
    assert done.train_loss_curve[:4] == failed.train_loss_curve[:4]
    assert [point[0] for point in done.eval_loss_curve] == [4, 8]
    assert [entry["step"] for entry in done.samples] == [4, 8]
    assert Path(done.checkpoint_path).name == FINAL_CHECKPOINT
    AutoModelForCausalLM.from_pretrained(done.checkpoint_path)
    assert not Path(failed.checkpoint_path).exists()
    assert checkpoints(Path(done.checkpoint_path).parent) == []
    assert done.base_eval_loss == failed.base_eval_loss
    assert done.train_records and done.eval_records and (done.tokens_per_second or 0) > 0


class SigtermAtStep(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_stops_after_the_step_and_the_resume_matches_an_unbroken_run(base: Path) -> None:
    config = tiny_config(steps=6, save_every=0, sample_every=2)
    run = create_run(config, base=str(base))
    handler = signal.getsignal(signal.SIGTERM)

    stopped = execute_run(run.pk, callbacks=[SigtermAtStep(3)], show_progress=False)

    assert signal.getsignal(signal.SIGTERM) is handler
    assert stopped.status == ModelRun.Status.FAILED
    assert stopped.error.startswith("Interrupted (SIGTERM) after step 3.")
    assert stopped.checkpoint_path.endswith("checkpoint-3")
    assert is_resumable(Path(stopped.checkpoint_path))

    call_command("finetune", "--resume", str(run.pk), verbosity=0)

    run.refresh_from_db()
    assert run.status == ModelRun.Status.DONE
    assert [point[0] for point in run.train_loss_curve] == [1, 2, 3, 4, 5, 6]
    unbroken = execute_run(create_run(config, base=str(base)).pk, show_progress=False)
    assert unbroken.status == ModelRun.Status.DONE
    # The database side resumes exactly too: same losses, evals, samples and final weights.
    assert run.train_loss_curve == unbroken.train_loss_curve
    assert run.eval_loss_curve == unbroken.eval_loss_curve
    assert run.samples == unbroken.samples and len(run.samples) == 3
    resumed = AutoModelForCausalLM.from_pretrained(run.checkpoint_path).state_dict()
    whole = AutoModelForCausalLM.from_pretrained(unbroken.checkpoint_path).state_dict()
    assert whole and resumed.keys() == whole.keys()
    assert all(torch.equal(resumed[name], tensor) for name, tensor in whole.items())
