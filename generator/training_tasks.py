"""The Celery task that runs a queued fine-tune on the dedicated `train` queue.

Acknowledged on receipt (acks_late=False): a fine-tune outlives any broker visibility timeout, and
a redelivered message would start the same run on a second worker. The conditional claim in
`execute_run` (queued -> running) is the second guard. A worker that dies mid-run is reported
through `task_failure` (WorkerLostError) and, failing that, by the run's stale heartbeat.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import task_failure
from django.conf import settings
from django.utils import timezone

from generator.finetune_runs import RunNotClaimable, execute_run
from generator.models import ModelRun

TRAIN_QUEUE = "train"
SOFT_TIME_LIMIT = getattr(settings, "FINETUNE_SOFT_TIME_LIMIT", 12 * 3600)
# Past the soft limit the run records its failure; the hard limit only catches a stuck process.
HARD_TIME_LIMIT = SOFT_TIME_LIMIT + 15 * 60

logger = logging.getLogger(__name__)


@shared_task(
    name="generator.finetune",
    queue=TRAIN_QUEUE,
    acks_late=False,
    reject_on_worker_lost=False,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
    ignore_result=True,
)
def finetune(run_id: int) -> str:
    """Train queued run `run_id` to the end; returns its final status."""
    ModelRun.objects.fail_stale()
    try:
        run = execute_run(run_id, show_progress=False)
    except RunNotClaimable:
        # Another worker has it, or it already finished: never run it twice.
        logger.warning("fine-tune run #%s is not queued; skipping", run_id)
        return "skipped"
    logger.info("fine-tune run #%s finished: %s", run.pk, run.status)
    return run.status


@task_failure.connect(sender=finetune)
def _mark_run_failed(
    sender: Any = None,
    exception: BaseException | None = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    """The worker process died (or the hard time limit killed it): record it on the run."""
    run_id = args[0] if args else (kwargs or {}).get("run_id")
    if run_id is None:
        return
    ModelRun.objects.filter(pk=run_id, status=ModelRun.Status.RUNNING).update(
        status=ModelRun.Status.FAILED,
        finished_at=timezone.now(),
        error=(
            f"The training worker stopped: {type(exception).__name__}: {exception}. "
            f"Resume with `manage.py finetune --resume {run_id}` or the admin's resume action."
        ),
    )


@shared_task(
    name="generator.fail_stale_runs", soft_time_limit=50, time_limit=60, ignore_result=True
)
def fail_stale_runs() -> int:
    """Beat's sweep: a fine-tune whose process was killed outright is marked failed, resumable."""
    failed = ModelRun.objects.fail_stale()
    if failed:
        logger.warning("marked %s silent fine-tune run(s) failed", failed)
    return failed
