"""Queue generator tasks by name, from processes that must not import generator.tasks (torch).

Where the task module is loaded (a worker, a test) the signature runs the task object itself, so
eager mode applies; elsewhere (the web process) it becomes `send_task` by name. Which queue each
task goes to is settings.CELERY_TASK_ROUTES's, and only there.
"""

from __future__ import annotations

import functools
import logging

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from generator.models import Pitch

GENERATE_BATCH = "generator.generate_batch"
TOP_UP_POOLS = "generator.top_up_pools"
FINETUNE = "generator.finetune"
FAIL_STALE_RUNS = "generator.fail_stale_runs"
EVALUATE_RUN = "generator.evaluate_run"
PITCH = "generator.pitch"
SWEEP_PITCHES = "generator.sweep_pitches"
DRAW_CARDS = "generator.draw_cards"
SWEEP_CARDS = "generator.sweep_cards"
SAMPLE_HEALTH = "generator.sample_health"
NUDGE_CACHE_KEY = "pools:nudged"
PITCH_UNSENT = "The site could not take your pitch just now. Try again in a minute."

log = logging.getLogger(__name__)


def finetune_on_commit(run_id: int) -> None:
    """Queue run `run_id` on the train queue once the current transaction commits."""
    signature = current_app.signature(FINETUNE, args=(run_id,))
    transaction.on_commit(signature.apply_async)


def evaluate_run_on_commit(
    run_id: int, samples: int | None = None, seed: int | None = None
) -> None:
    """Queue the realism evaluation of run `run_id` on the gpu queue once the transaction commits.

    `samples` and `seed` default to the task's (300 and 0); the result lands on ModelRun.realism.
    """
    options = {"samples": samples, "seed": seed}
    kwargs = {name: value for name, value in options.items() if value is not None}
    signature = current_app.signature(EVALUATE_RUN, args=(run_id,), kwargs=kwargs)
    transaction.on_commit(signature.apply_async)


def pitch_on_commit(pitch_id: int) -> None:
    """Queue pitch `pitch_id` on the pitch queue (read before pool batches) after the commit.

    Where the broker cannot take it, the pitch fails with a message its visitor reads on the
    pitch's page, instead of a server error and a row left queued that nothing will write.
    """
    transaction.on_commit(functools.partial(_send_pitch, pitch_id))


def _send_pitch(pitch_id: int) -> None:
    try:
        current_app.signature(PITCH, args=(pitch_id,)).apply_async(retry=False)
    except Exception:  # noqa: BLE001 - kombu's connection errors differ by transport
        log.warning("pitch %s could not be queued", pitch_id, exc_info=True)
        Pitch.objects.filter(pk=pitch_id, status=Pitch.Status.QUEUED).update(
            status=Pitch.Status.FAILED, error=PITCH_UNSENT, finished_at=timezone.now()
        )


def draw_cards_on_commit(ids: list[int]) -> None:
    """Have a worker draw the share cards of texts that just went public, after the commit."""
    if ids:
        transaction.on_commit(current_app.signature(DRAW_CARDS, args=(ids,)).apply_async)


def nudge_top_up() -> None:
    """After serving: ask for a top-up, at most once per POOL_NUDGE_INTERVAL; never raises."""
    try:
        if not cache.add(NUDGE_CACHE_KEY, 1, timeout=settings.POOL_NUDGE_INTERVAL):
            return
        current_app.signature(TOP_UP_POOLS).apply_async(retry=False)
    except Exception:  # noqa: BLE001 - a cache or broker outage must never break a page view
        log.warning("top-up nudge failed; the next page view retries", exc_info=True)
        try:
            cache.delete(NUDGE_CACHE_KEY)
        except Exception:  # noqa: BLE001
            log.debug("cache unreachable too")
