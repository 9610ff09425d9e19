"""A run that raises mid-training is marked failed, keeps its checkpoint, and resumes from it."""

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from generator.finetune_runs import create_run, execute_run
from generator.ml.training import TRAINING_STATE, TrainingHooks
from generator.models import ModelRun
from tests.finetune_helpers import FailAtStep, add_tiny_titles, tiny_config
from tests.tiny_model import build_tiny_checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(tmp_path: Path, settings: Any) -> Path:
    settings.MODEL_DIR = tmp_path / "models"
    add_tiny_titles()
    return build_tiny_checkpoint(tmp_path / "base")


def test_a_run_that_raises_is_failed_keeps_its_checkpoint_and_resumes(base: Path) -> None:
    run = create_run(tiny_config(steps=8, save_every=4), base=str(base))

    failed = execute_run(
        run.pk, hooks=[FailAtStep(6, OSError("No space left on device"))], show_progress=False
    )

    assert failed.status == ModelRun.Status.FAILED
    assert "OSError: No space left on device" in failed.error
    assert f"--resume {run.pk}" in failed.error
    assert failed.finished_at is not None
    assert failed.checkpoint_path.endswith("step-000004")
    assert (Path(failed.checkpoint_path) / TRAINING_STATE).is_file()
    assert failed.step == 6 and failed.train_loss_curve[-1][0] == 6

    assert ModelRun.objects.requeue(run.pk)
    done = execute_run(run.pk, show_progress=False)

    assert done.status == ModelRun.Status.DONE and done.error == ""
    assert done.step == done.total_steps == 8
    assert [point[0] for point in done.train_loss_curve] == list(range(1, 9))
    assert [point[0] for point in done.eval_loss_curve] == [4, 8]
    assert [entry["step"] for entry in done.samples] == [4, 8]
    assert done.checkpoint_path.endswith("step-000008")
    assert not Path(failed.checkpoint_path).exists()
    assert done.base_eval_loss is not None and done.train_records and done.eval_records


class SigtermAtStep(TrainingHooks):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None:
        if step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_stops_after_the_step_with_a_checkpoint_and_resume_finishes(base: Path) -> None:
    run = create_run(tiny_config(steps=6, save_every=0), base=str(base))
    handler = signal.getsignal(signal.SIGTERM)

    stopped = execute_run(run.pk, hooks=[SigtermAtStep(3)], show_progress=False)

    assert signal.getsignal(signal.SIGTERM) is handler
    assert stopped.status == ModelRun.Status.FAILED
    assert stopped.error.startswith("Interrupted (SIGTERM) after step 3.")
    assert stopped.checkpoint_path.endswith("step-000003")

    call_command("finetune", "--resume", str(run.pk), verbosity=0)

    run.refresh_from_db()
    assert run.status == ModelRun.Status.DONE
    assert [point[0] for point in run.train_loss_curve] == [1, 2, 3, 4, 5, 6]
