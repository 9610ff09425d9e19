"""Celery tasks that keep the pools full: they take ids and plain values, and re-read state."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(
    name="generator.generate_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=900,
    time_limit=960,
    ignore_result=True,
)
def generate_batch(batch_id: int) -> None:
    """Sample, filter and store one batch; safe to run again for the same id."""
    from generator.pipeline import run_batch

    run_batch(batch_id)


@shared_task(name="generator.top_up_pools", soft_time_limit=50, time_limit=60, ignore_result=True)
def top_up_pools() -> None:
    from generator.pools import top_up

    for result in top_up():
        log.info(
            "pool %s: %s fresh, queued %s batches", result.pool, result.fresh, result.queued_batches
        )
