"""Every Celery task of the generator app. Tasks take ids, re-read state and are safe to repeat.

The web process never imports this module (it would load torch): it queues by task name through
generator.queueing, and Celery routes by name (settings.CELERY_TASK_ROUTES).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import task_failure
from django.conf import settings
from django.utils import timezone

from generator import cards, pitches, pools, queueing, site_health
from generator.finetune_execution import RunNotClaimable, execute_run
from generator.models import Activation, GeneratedDescription, ModelRun, Pitch
from generator.pipeline import batch_size, run_batch
from generator.quality_gate import run_activation_problems
from generator.run_evaluation import DEFAULT_SAMPLES, EvaluationError
from generator.run_evaluation import evaluate_run as evaluate

log = logging.getLogger(__name__)

FINETUNE_SOFT_TIME_LIMIT = getattr(settings, "FINETUNE_SOFT_TIME_LIMIT", 12 * 3600)
# Past the soft limit the run records its failure; the hard limit only catches a stuck process.
FINETUNE_HARD_TIME_LIMIT = FINETUNE_SOFT_TIME_LIMIT + 15 * 60
# 300 samples of a small model take minutes on a CPU worker, seconds on a GPU.
EVALUATE_SOFT_TIME_LIMIT = 3600
# A pitch samples a few texts in one chunk: seconds on a CPU; a visitor gives up long before this.
PITCH_SOFT_TIME_LIMIT = 120
GENERATE_BATCH_SOFT_TIME_LIMIT = 900
# A card takes ~150 ms to draw: a sweep stays well inside its time limit.
CARDS_PER_SWEEP = 2000


# DjangoTask is what the Django fixup makes every task; naming it lets mypy see delay_on_commit.
@shared_task(
    name=queueing.GENERATE_BATCH,
    base=DjangoTask,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=GENERATE_BATCH_SOFT_TIME_LIMIT,
    time_limit=GENERATE_BATCH_SOFT_TIME_LIMIT + 60,
    ignore_result=True,
)
def generate_batch(batch_id: int) -> None:
    """Sample, filter and store one batch; safe to run again for the same id."""
    batch = run_batch(batch_id)
    if batch is not None:
        public = GeneratedDescription.objects.servable().filter(batch=batch)
        draw_cards.delay_on_commit(list(public.values_list("pk", flat=True)))


@shared_task(
    name=queueing.PITCH,
    # Routed to the pitch queue (settings.CELERY_TASK_ROUTES), which the gpu worker reads first.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=PITCH_SOFT_TIME_LIMIT,
    time_limit=PITCH_SOFT_TIME_LIMIT + 30,
    ignore_result=True,
)
def pitch(pitch_id: int) -> str:
    """Write a visitor's pitched title; a pitch a running batch already wrote is left alone."""
    done = pitches.run_pitch(pitch_id)
    if done is not None and done.description_id is not None:
        draw_cards.delay_on_commit([done.description_id])  # drawn only if it went public
    return done.status if done is not None else "skipped"


@shared_task(
    name=queueing.DRAW_CARDS,
    base=DjangoTask,
    soft_time_limit=300,
    time_limit=330,
    ignore_result=True,
)
def draw_cards(ids: list[int]) -> int:
    """Draw the share cards of those texts that are public and have none yet (idempotent)."""
    return cards.draw_public(ids)


@shared_task(name=queueing.SWEEP_CARDS, soft_time_limit=600, time_limit=660, ignore_result=True)
def sweep_cards() -> tuple[int, int]:
    """Beat's sweep: draw what is missing (a bounded number per run), delete what is not public."""
    drawn, deleted = cards.sweep(limit=CARDS_PER_SWEEP)
    if drawn or deleted:
        log.info("share cards: %s drawn, %s deleted", drawn, deleted)
    return drawn, deleted


@shared_task(name=queueing.SAMPLE_HEALTH, soft_time_limit=50, time_limit=60, ignore_result=True)
def sample_health() -> int:
    """Beat's health sample: pool levels and views so far, for the admin's "Site health" page."""
    return site_health.take_sample().pk


@shared_task(name=queueing.SWEEP_PITCHES, soft_time_limit=50, time_limit=60, ignore_result=True)
def sweep_pitches() -> int:
    """Beat's sweep: pitches past PITCH_TIMEOUT fail with a message their visitor reads; those
    still in time that no worker holds (a lost worker, a lost message) are queued again."""
    expired = Pitch.objects.expire()
    lost = Pitch.objects.lost()
    for pitch_id in lost:
        # A pitch another worker still writes is left alone by run_pitch's conditional claim.
        pitch.delay(pitch_id)
    if expired or lost:
        log.info("pitches: %s expired, %s queued again", expired, len(lost))
    return expired


@shared_task(name=queueing.TOP_UP_POOLS, soft_time_limit=50, time_limit=60, ignore_result=True)
def top_up_pools() -> None:
    """Send lost batches again, then queue batches for every pool below its low-water mark."""
    for batch_id in pools.requeue_stale_batches():
        generate_batch.delay_on_commit(batch_id)
    for result in pools.top_up(batch_size(ModelRun.objects.active())):
        for batch_id in result.batch_ids:
            generate_batch.delay_on_commit(batch_id)
        log.info(
            "pool %s: %s fresh, queued %s batches", result.pool, result.fresh, len(result.batch_ids)
        )


@shared_task(
    name=queueing.FINETUNE,
    # Acknowledged on receipt: a fine-tune outlives any visibility timeout, and a redelivered
    # message would start the same run twice. The conditional claim in execute_run is the
    # second guard.
    acks_late=False,
    reject_on_worker_lost=False,
    soft_time_limit=FINETUNE_SOFT_TIME_LIMIT,
    time_limit=FINETUNE_HARD_TIME_LIMIT,
    ignore_result=True,
)
def finetune(run_id: int) -> str:
    """Train queued run `run_id` to the end; returns its final status."""
    ModelRun.objects.fail_stale()
    try:
        run = execute_run(run_id, show_progress=False)
    except RunNotClaimable:
        log.warning("fine-tune run #%s is not queued; skipping", run_id)
        return "skipped"
    log.info("fine-tune run #%s finished: %s", run.pk, run.status)
    if run.status == ModelRun.Status.DONE:
        # Every finished run gets realism figures, sampled on a gpu worker.
        queueing.evaluate_run_on_commit(run.pk)
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


@shared_task(name=queueing.FAIL_STALE_RUNS, soft_time_limit=50, time_limit=60, ignore_result=True)
def fail_stale_runs() -> int:
    """Beat's sweep: a fine-tune whose process was killed outright is marked failed, resumable."""
    failed = ModelRun.objects.fail_stale()
    if failed:
        log.warning("marked %s silent fine-tune run(s) failed", failed)
    return failed


@shared_task(
    name=queueing.EVALUATE_RUN,
    # Routed to the gpu queue (settings.CELERY_TASK_ROUTES): it samples. Same seed, same figures,
    # so a redelivered message just writes them again.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=EVALUATE_SOFT_TIME_LIMIT,
    time_limit=EVALUATE_SOFT_TIME_LIMIT + 60,
    ignore_result=True,
)
def evaluate_run(
    run_id: int, samples: int = DEFAULT_SAMPLES, seed: int = 0
) -> dict[str, float | int | None] | None:
    """Measure how real run `run_id`'s samples read and store it on ModelRun.realism.

    A run flagged activate_when_good (manage.py bootstrap) is then activated if it passes the
    quality gate and is not worse than the active run; otherwise its activation says why not.
    """
    try:
        realism = evaluate(run_id, samples, seed)
    except EvaluationError as exc:
        log.warning("realism of model run #%s not evaluated: %s", run_id, exc)
        activate_when_good(run_id, ["the realism evaluation failed"])
        return None
    activate_when_good(run_id)
    return realism.as_dict()


def activate_when_good(run_id: int, failed: list[str] | None = None) -> None:
    """The evaluate_run task's last step: activate a flagged run that passes the quality gate.

    Only for runs flagged activate_when_good; `failed` are checks already known to fail (the
    evaluation itself). The verdict goes to `activation`, the reasons to `activation_problems`.
    """
    run = ModelRun.objects.filter(pk=run_id).first()
    if run is None or not run.activate_when_good or run.is_active:
        return
    problems = failed if failed is not None else run_activation_problems(run)
    if not problems:
        try:
            run.activate()
        except ValueError as exc:  # another run was activated at the same moment
            problems = [str(exc)]
    verdict = Activation.REFUSED if problems else Activation.ACTIVATED
    ModelRun.objects.filter(pk=run_id).update(
        activation=verdict, activation_problems="; ".join(problems)
    )
    log.info("model run #%s, activation when good: %s %s", run_id, verdict, problems or "")
