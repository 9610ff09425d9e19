"""Pools of servable descriptions and the top-up that keeps them between their water marks.

Pools are "all" and each kind x top genre. `top_up` counts the fresh texts of each pool, subtracts
what batches already queued will bring, and queues just enough batches to get back over the
high-water mark. A pool is claimed with a conditional UPDATE, so two top-ups racing never queue
for the same shortfall.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from generator.ml.config import SamplingSettings
from generator.models import GeneratedDescription, GenerationBatch, ModelRun, Pool
from titles.models import Genre, Kind

log = logging.getLogger(__name__)

ALL = "all"
CLAIM_SECONDS = 60
# Longer than a batch's hard time limit: a batch still queued or running after this was lost
# (a killed worker, a broker that dropped the message) and is sent again.
STALE_BATCH_AGE = timedelta(minutes=20)
FRESH_STATUSES = (GeneratedDescription.Status.APPROVED, GeneratedDescription.Status.PENDING)
DEFAULT_YIELD = 0.8  # a fine-tuned run keeps ~85% of its samples; a refill corrects the rest
MIN_YIELD = 0.1


def pool_key(kind: str = "", genre_slug: str = "") -> str:
    return ":".join(part for part in (kind, genre_slug) if part) or ALL


def sync_pools() -> list[Pool]:
    """Create the "all" pool and one per kind x top genre of the training data; return them all."""
    wanted: list[tuple[str, str, Genre | None, int, int]] = [
        (ALL, "", None, settings.POOL_LOW_WATER, settings.POOL_HIGH_WATER)
    ]
    for kind in Kind.values:
        top = (
            Genre.objects.filter(training_titles__kind=kind)
            .annotate(titles=Count("training_titles"))
            .order_by("-titles", "name")[: settings.POOL_TOP_GENRES]
        )
        for genre in top:
            wanted.append(
                (
                    pool_key(kind, genre.slug),
                    kind,
                    genre,
                    settings.POOL_GENRE_LOW_WATER,
                    settings.POOL_GENRE_HIGH_WATER,
                )
            )
    Pool.objects.bulk_create(
        [
            Pool(key=key, kind=kind, genre=genre, low_water=low, high_water=high)
            for key, kind, genre, low, high in wanted
        ],
        ignore_conflicts=True,
    )
    keys = [key for key, *_ in wanted]
    return list(Pool.objects.filter(key__in=keys).select_related("genre").order_by("key"))


def pool_descriptions(pool: Pool) -> QuerySet[GeneratedDescription]:
    descriptions = GeneratedDescription.objects.all()
    if pool.kind:
        descriptions = descriptions.filter(kind=pool.kind)
    if pool.genre_id:
        descriptions = descriptions.filter(genres=pool.genre_id)
    return descriptions


def fresh_count(pool: Pool) -> int:
    return (
        pool_descriptions(pool)
        .filter(status__in=FRESH_STATUSES, times_served__lt=settings.POOL_FRESH_MAX_SERVED)
        # A visitor's pitch waiting for review may never be approved: it does not fill a pool.
        .exclude(pitched=True, status=GeneratedDescription.Status.PENDING)
        # Nor does a text reports took down: however many, the pools refill around them.
        .filter(hidden_at__isnull=True)
        .count()
    )


def in_flight(pool: Pool) -> int:
    """Texts that queued or running batches of this pool are expected to add."""
    pending = pool.batches.filter(
        status__in=(GenerationBatch.Status.QUEUED, GenerationBatch.Status.RUNNING)
    ).aggregate(requested=Sum("requested"))["requested"]
    return math.floor((pending or 0) * expected_yield(pool))


def expected_yield(pool: Pool) -> float:
    """Accepted share of requested texts over the pool's recent batches."""
    recent = list(
        pool.batches.filter(status=GenerationBatch.Status.DONE)
        .order_by("-finished_at")
        .values_list("accepted", "requested")[:10]
    )
    requested = sum(r for _a, r in recent)
    if not requested:
        return DEFAULT_YIELD
    return max(MIN_YIELD, sum(a for a, _r in recent) / requested)


@dataclass(frozen=True)
class TopUp:
    pool: str
    fresh: int
    batch_ids: list[int]  # new batches, for the caller to queue


def top_up(batch_size: int) -> list[TopUp]:
    """Create batches for every pool below its low-water mark and not yet refilled."""
    run = ModelRun.objects.active()
    if run is None or not run.checkpoint_path:
        log.info("top-up skipped: no active model run")
        return []
    results = []
    for pool in sync_pools():
        fresh = fresh_count(pool)
        if not _needs_refill(pool, fresh) or not _claim(pool):
            continue
        try:
            batch_ids = _batches_for_shortfall(run, pool, fresh, batch_size)
        finally:
            Pool.objects.filter(pk=pool.pk).update(
                claimed_until=None, last_topped_up_at=timezone.now()
            )
        results.append(TopUp(pool.key, fresh, batch_ids))
    return results


def _needs_refill(pool: Pool, fresh: int) -> bool:
    """Hysteresis: start below the low-water mark, keep going until over the high-water mark."""
    refilling = fresh < pool.low_water or (pool.refilling and fresh < pool.high_water)
    if refilling != pool.refilling:
        Pool.objects.filter(pk=pool.pk).update(refilling=refilling)
    return refilling


def _batches_for_shortfall(run: ModelRun, pool: Pool, fresh: int, size: int) -> list[int]:
    shortfall = pool.high_water - fresh - in_flight(pool)
    if shortfall <= 0:
        return []
    texts = math.ceil(shortfall / expected_yield(pool))
    size = min(size, texts)  # a measured size can be far more than a small pool is short of
    batches = min(math.ceil(texts / size), settings.POOL_MAX_BATCHES_PER_TOP_UP)
    return create_batches(run, pool, batches, size)


def requeue_stale_batches() -> list[int]:
    """Claim lost batches for sending again; running one twice loses and duplicates nothing."""
    cutoff = timezone.now() - STALE_BATCH_AGE
    stale = Q(status=GenerationBatch.Status.RUNNING, started_at__lt=cutoff) | Q(
        status=GenerationBatch.Status.QUEUED, started_at__isnull=True, created_at__lt=cutoff
    )
    requeued = []
    for batch_id in GenerationBatch.objects.filter(stale).values_list("pk", flat=True)[:100]:
        # Claimed by a conditional UPDATE: two top-ups never send the same lost batch twice.
        claimed = GenerationBatch.objects.filter(stale, pk=batch_id).update(
            status=GenerationBatch.Status.QUEUED, created_at=timezone.now(), started_at=None
        )
        if claimed:
            requeued.append(batch_id)
    if requeued:
        log.warning("re-queued %s lost generation batches", len(requeued))
    return requeued


def _claim(pool: Pool) -> bool:
    now = timezone.now()
    claimed = Pool.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=pool.pk
    ).update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    return claimed == 1


def create_batches(run: ModelRun, pool: Pool | None, count: int, size: int) -> list[int]:
    """Create `count` queued batches of `size` texts and return their ids."""
    batches = GenerationBatch.objects.bulk_create(
        [
            GenerationBatch(
                model_run=run,
                pool=pool,
                kind=pool.kind if pool else "",
                genre=pool.genre if pool else None,
                requested=size,
                sampling=SamplingSettings.from_settings(settings).as_dict(),
            )
            for _ in range(count)
        ]
    )
    return [batch.pk for batch in batches]
