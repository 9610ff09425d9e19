"""A run queued by `manage.py bootstrap` (flagged activate_when_good) is activated by the
evaluate_run task when its realism passes the quality gate, else refused with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from generator.models import ModelRun
from generator.tasks import activate_when_good, evaluate_run
from tests.factories import PASSING_REALISM, ModelRunFactory

pytestmark = pytest.mark.django_db

GOOD = PASSING_REALISM
SETTINGS = {"steps": 200}


def finished_run(realism: dict[str, Any], **fields: Any) -> ModelRun:
    values: dict[str, Any] = {
        "hyperparameters": dict(SETTINGS),
        "activate_when_good": True,
        "checkpoint_path": "/models/runs/run-00001/final",
        "realism": realism,
        **fields,
    }
    return ModelRunFactory.create(**values)


def test_a_flagged_run_that_passes_the_gate_becomes_the_active_model() -> None:
    run = finished_run(GOOD)

    activate_when_good(run.pk)

    run.refresh_from_db()
    assert run.is_active
    assert ModelRun.objects.active() == run
    assert (run.activation, run.activation_problems) == ("activated", "")
    assert run.hyperparameters == SETTINGS


def test_a_flagged_run_that_fails_the_gate_is_refused_with_the_reason() -> None:
    run = finished_run({**GOOD, "discriminator_auc": 0.9, "copy_rate": 0.03})

    activate_when_good(run.pk)

    run.refresh_from_db()
    assert not run.is_active and ModelRun.objects.active() is None
    assert run.activation == "refused"
    assert run.activation_problems == (
        "discriminator AUC 0.900 is above 0.750; copy rate 3.0% is above 2.0%"
    )
    assert run.hyperparameters == SETTINGS


def test_a_run_worse_than_the_active_one_is_refused_and_the_active_one_stays() -> None:
    active = finished_run({**GOOD, "discriminator_auc": 0.55}, is_active=True)
    run = finished_run({**GOOD, "discriminator_auc": 0.70})

    activate_when_good(run.pk)

    run.refresh_from_db()
    assert ModelRun.objects.active() == active
    assert run.activation == "refused"
    assert run.activation_problems == (
        "worse than the active run: discriminator AUC: 0.700 against the active run's 0.550"
    )


def test_a_run_as_good_as_the_active_one_replaces_it() -> None:
    previous = finished_run(GOOD, is_active=True, activate_when_good=False)
    run = finished_run({**GOOD, "discriminator_auc": 0.615})

    activate_when_good(run.pk)

    previous.refresh_from_db()
    assert ModelRun.objects.active() == run
    assert not previous.is_active


def test_a_run_without_the_flag_is_left_to_a_moderator() -> None:
    run = finished_run(GOOD, activate_when_good=False)

    activate_when_good(run.pk)

    run.refresh_from_db()
    assert not run.is_active
    assert run.activation == ""


def test_the_task_refuses_a_flagged_run_it_could_not_evaluate() -> None:
    # A done run without a checkpoint: the evaluation stops before loading any model.
    run = finished_run({}, checkpoint_path="")

    assert evaluate_run.apply(args=(run.pk,)).get() is None

    run.refresh_from_db()
    assert not run.is_active
    assert (run.activation, run.activation_problems) == (
        "refused",
        "the realism evaluation failed",
    )


def test_the_refusal_is_what_the_home_page_shows(client: Any) -> None:
    run = finished_run({**GOOD, "real_title_rate": 0.2})
    activate_when_good(run.pk)

    page = client.get("/").content.decode()

    assert "The model did not pass the quality gate" in page
    assert "real-title rate 20.0% is above 3.0%" in page
