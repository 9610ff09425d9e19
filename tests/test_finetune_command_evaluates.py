"""`manage.py finetune` evaluates the run it trained, and `--activate` holds a worse run back."""

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from generator.models import ModelRun
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import PASSING_REALISM, TrainingTitleFactory, invented_text
from tests.finetune_helpers import add_tiny_titles, tiny_command_arguments, tiny_config
from tests.tiny_model import build_tiny_checkpoint
from titles.models import Kind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]
# As good as the gate asks for: a freshly trained tiny model is worse on every figure.
GOOD = PASSING_REALISM
EVAL_SAMPLES = ["--eval-samples", "20"]
# Two steps, checkpointed and sampled only at the end: the evaluation is what is tested here.
QUICK = tiny_config(steps=2, eval_every=0, sample_every=0, save_every=0)


@pytest.fixture
def base(tmp_path: Path, settings: Any) -> Path:
    settings.MODEL_DIR = tmp_path / "models"
    add_tiny_titles(copies=1)
    # Real descriptions the run holds out, so there is something to be real against.
    for n in range(20):
        TrainingTitleFactory.create(
            kind=(Kind.MOVIE, Kind.TV_SHOW)[n % 2], description=invented_text(n, "real")
        )
    return build_tiny_checkpoint(tmp_path / "base")


def _finetune(base: Path, *arguments: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "finetune", *tiny_command_arguments(base, QUICK), *arguments, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def _good_active_run() -> ModelRun:
    return ModelRun.objects.create(
        status=ModelRun.Status.DONE, checkpoint_path="/m/good", is_active=True, realism=GOOD
    )


def test_the_command_evaluates_the_run_it_trained(base: Path) -> None:
    printed, _ = _finetune(base, *EVAL_SAMPLES)

    run = ModelRun.objects.get()
    assert run.status == ModelRun.Status.DONE
    assert run.realism["samples"] == 20 and run.realism["real_texts"] > 0
    assert f"Evaluating run #{run.pk}: sampling 20 texts" in printed
    assert f"Realism of run #{run.pk}:" in printed
    copies = next(line for line in printed.splitlines() if line.strip().startswith("copy rate"))
    assert copies.split()[2] == f"{run.realism['copy_rate']:.1%}"
    assert "quality gate" in printed
    assert not run.is_active


def test_no_evaluate_leaves_the_run_unmeasured(base: Path) -> None:
    printed, _ = _finetune(base, "--no-evaluate")

    assert ModelRun.objects.get().realism == {}
    assert "Evaluating" not in printed


def test_activate_refuses_a_run_worse_than_the_active_one_unless_forced(base: Path) -> None:
    active = _good_active_run()

    with pytest.raises(CommandError, match=r"is done but not activated: .*Pass --force"):
        _finetune(base, *EVAL_SAMPLES, "--activate")

    refused = ModelRun.objects.exclude(pk=active.pk).get()
    assert refused.status == ModelRun.Status.DONE and refused.realism
    assert not refused.is_active
    assert ModelRun.objects.active() == active

    printed, warned = _finetune(base, *EVAL_SAMPLES, "--activate", "--force")

    forced = ModelRun.objects.order_by("pk").last()
    assert forced is not None and forced.pk != refused.pk
    assert f"Run #{forced.pk} is now the active model." in printed
    assert f"Activating run #{forced.pk} anyway:" in warned
    assert ModelRun.objects.active() == forced


def test_force_without_activate_is_refused_before_training(base: Path) -> None:
    with pytest.raises(CommandError, match="--force only goes with --activate"):
        _finetune(base, "--force")
    with pytest.raises(CommandError, match="--eval-samples must be between 20 and 20000"):
        _finetune(base, "--eval-samples", "5")
    assert ModelRun.objects.count() == 0
