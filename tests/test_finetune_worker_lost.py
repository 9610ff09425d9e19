"""A run is claimed by one worker only, and a run whose worker died is marked failed."""

from datetime import timedelta
from typing import Any

import pytest
from billiard.exceptions import WorkerLostError
from celery import current_app
from celery.signals import task_failure
from django.utils import timezone

from generator.models import MODEL_RUN_STALE_AFTER, ModelRun
from generator.tasks import finetune

pytestmark = pytest.mark.django_db


def test_only_one_claim_of_a_queued_run_succeeds() -> None:
    run = ModelRun.objects.create(base="tiny")

    assert ModelRun.objects.claim(run.pk) is True
    assert ModelRun.objects.claim(run.pk) is False
    run.refresh_from_db()
    assert run.status == ModelRun.Status.RUNNING and run.started_at and run.heartbeat_at


def test_the_task_skips_a_run_another_worker_is_running() -> None:
    run = ModelRun.objects.create(base="tiny", status=ModelRun.Status.RUNNING)

    assert finetune(run.pk) == "skipped"
    run.refresh_from_db()
    assert run.status == ModelRun.Status.RUNNING


def test_the_task_goes_to_the_train_queue_and_is_acked_on_receipt() -> None:
    route = current_app.amqp.router.route({}, finetune.name)
    assert route["queue"].name == "train"
    assert finetune.acks_late is False
    soft, hard = finetune.soft_time_limit, finetune.time_limit
    assert soft is not None and hard is not None and soft < hard


def test_a_lost_worker_marks_its_run_failed() -> None:
    run = ModelRun.objects.create(base="tiny", status=ModelRun.Status.RUNNING)

    task_failure.send(
        sender=finetune,
        task_id="t1",
        exception=WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)."),
        args=(run.pk,),
        kwargs={},
        traceback=None,
        einfo=None,
    )

    run.refresh_from_db()
    assert run.status == ModelRun.Status.FAILED
    assert "WorkerLostError" in run.error and f"--resume {run.pk}" in run.error


def test_a_stale_heartbeat_marks_the_run_failed() -> None:
    now = timezone.now()
    stale = ModelRun.objects.create(
        base="tiny",
        status=ModelRun.Status.RUNNING,
        heartbeat_at=now - MODEL_RUN_STALE_AFTER - timedelta(minutes=1),
    )
    alive = ModelRun.objects.create(
        base="tiny", status=ModelRun.Status.RUNNING, heartbeat_at=now - timedelta(minutes=1)
    )

    assert ModelRun.objects.fail_stale() == 1

    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == ModelRun.Status.FAILED and "worker was lost" in stale.error
    assert alive.status == ModelRun.Status.RUNNING


def test_beat_sweeps_for_silent_runs_every_five_minutes(settings: Any) -> None:
    from generator.tasks import fail_stale_runs

    silent = ModelRun.objects.create(
        base="tiny",
        status=ModelRun.Status.RUNNING,
        heartbeat_at=timezone.now() - MODEL_RUN_STALE_AFTER - timedelta(minutes=1),
    )

    assert fail_stale_runs.apply().get() == 1

    silent.refresh_from_db()
    assert silent.status == ModelRun.Status.FAILED
    sweep = settings.CELERY_BEAT_SCHEDULE["fail-stale-runs"]
    assert (sweep["task"], sweep["schedule"]) == ("generator.fail_stale_runs", 300.0)
