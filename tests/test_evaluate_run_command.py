"""`manage.py evaluate_run`: bad arguments are clear errors; a good run prints its figures."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generator.models import ModelRun
from generator.quality_gate import FIGURES
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used below
from tests.factories import ModelRunFactory, TrainingTitleFactory, invented_text
from titles.models import Kind

ROOT = Path(__file__).resolve().parent.parent


def _call(*arguments: str) -> str:
    out = StringIO()
    call_command("evaluate_run", *arguments, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--samples", "19"], "--samples must be between 20 and 20000"),
        (["--samples", "0"], "--samples must be between 20 and 20000"),
        (["--samples", "20001"], "--samples must be between 20 and 20000"),
        (["--seed", "-1"], "--seed must be zero or positive"),
    ],
)
def test_bad_numbers_are_refused_before_any_lookup(arguments: list[str], message: str) -> None:
    # No database access allowed: the arguments are checked first.
    with pytest.raises(CommandError, match=message):
        _call("1", *arguments)


@pytest.mark.django_db
def test_an_unknown_run_is_refused() -> None:
    with pytest.raises(CommandError, match="no model run #999"):
        _call("999")


@pytest.mark.django_db
@pytest.mark.parametrize("status", [ModelRun.Status.QUEUED, ModelRun.Status.FAILED])
def test_a_run_that_is_not_done_is_refused(trained_checkpoint: Path, status: str) -> None:
    run = ModelRunFactory.create(status=status, checkpoint_path=str(trained_checkpoint))

    with pytest.raises(CommandError, match=f"model run #{run.pk} is {status}: only a done run"):
        _call(str(run.pk))


@pytest.mark.django_db
def test_a_run_without_a_checkpoint_is_refused(tmp_path: Path) -> None:
    without = ModelRunFactory.create(checkpoint_path="")
    missing = ModelRunFactory.create(checkpoint_path=str(tmp_path / "deleted"))

    with pytest.raises(CommandError, match=f"model run #{without.pk} has no checkpoint"):
        _call(str(without.pk))
    with pytest.raises(CommandError, match="is not on this machine"):
        _call(str(missing.pk))
    assert not ModelRun.objects.exclude(realism={}).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_training_detector")
def test_it_prints_the_figures_and_stores_them(active_run: ModelRun) -> None:
    for n in range(30):
        TrainingTitleFactory.create(
            kind=(Kind.MOVIE, Kind.TV_SHOW)[n % 2], description=invented_text(n, "real")
        )
    ModelRun.objects.filter(pk=active_run.pk).update(
        hyperparameters={"data": "database", "limit": None, "seed": 1, "eval_fraction": 0.1}
    )

    printed = _call(str(active_run.pk), "--samples", "20", "--seed", "2")

    active_run.refresh_from_db()
    assert active_run.realism["samples"] == 20
    assert f"Realism of model run #{active_run.pk} (seed 2):" in printed
    for item in FIGURES:  # every figure of the catalogue, gated ones with their bound
        assert item.label in printed
    copies = next(line for line in printed.splitlines() if line.strip().startswith("copy rate"))
    assert copies.split()[2] == f"{active_run.realism['copy_rate']:.1%}"
    assert copies.endswith("(≤ 2.0%)")


def test_the_command_exits_non_zero_without_a_traceback(tmp_path: Path) -> None:
    environment = {**os.environ, "DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}

    result = subprocess.run(
        [sys.executable, "manage.py", "evaluate_run", "1", "--samples", "5"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "--samples must be between 20 and 20000" in result.stderr
    assert "Traceback" not in result.stderr
