"""Pools of servable descriptions and the top-up that keeps them between their water marks.

Pools are "all" and each kind x top genre. `top_up` counts the fresh texts of each pool, subtracts
what batches already queued will bring, and queues just enough batches to get back over the
high-water mark. A pool is claimed with a conditional UPDATE, so two top-ups racing never queue
for the same shortfall.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from generator.models import GeneratedDescription, GenerationBatch, ModelRun, Pool
from generator.pool_tasks import generate_batch, top_up_pools
from titles.models import Genre, Kind, TrainingTitle

log = logging.getLogger(__name__)

ALL = "all"
CLAIM_SECONDS = 60
# Longer than a batch's hard time limit: a batch still queued or running after this was lost
# (a killed worker, a broker that dropped the message) and is sent again.
STALE_BATCH_AGE = timedelta(minutes=20)
FRESH_STATUSES = (GeneratedDescription.Status.APPROVED, GeneratedDescription.Status.PENDING)
DEFAULT_YIELD = 0.8  # a fine-tuned run keeps ~85% of its samples; a refill corrects the rest
MIN_YIELD = 0.1
NUDGE_CACHE_KEY = "pools:nudged"


def pool_key(kind: str = "", genre_slug: str = "") -> str:
    return ":".join(part for part in (kind, genre_slug) if part) or ALL


def sync_pools() -> list[Pool]:
    """Create the "all" pool and one per kind x top genre of the training data; return them all."""
    wanted = [(ALL, "", None, settings.POOL_LOW_WATER, settings.POOL_HIGH_WATER)]
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
    queued_batches: int


def top_up(batch_size: int | None = None) -> list[TopUp]:
    """Queue batches for every pool that fell below its low-water mark and is not yet refilled."""
    run = ModelRun.objects.filter(is_active=True).first()
    if run is None or not run.checkpoint_path:
        log.info("top-up skipped: no active model run")
        return []
    size = batch_size or default_batch_size()
    requeue_stale_batches()
    results = []
    for pool in sync_pools():
        fresh = fresh_count(pool)
        if not _needs_refill(pool, fresh) or not _claim(pool):
            continue
        try:
            batches = _queue_for_shortfall(run, pool, fresh, size)
        finally:
            Pool.objects.filter(pk=pool.pk).update(
                claimed_until=None, last_topped_up_at=timezone.now()
            )
        results.append(TopUp(pool.key, fresh, batches))
    return results


def _needs_refill(pool: Pool, fresh: int) -> bool:
    """Hysteresis: start below the low-water mark, keep going until over the high-water mark."""
    refilling = fresh < pool.low_water or (pool.refilling and fresh < pool.high_water)
    if refilling != pool.refilling:
        Pool.objects.filter(pk=pool.pk).update(refilling=refilling)
    return refilling


def _queue_for_shortfall(run: ModelRun, pool: Pool, fresh: int, size: int) -> int:
    shortfall = pool.high_water - fresh - in_flight(pool)
    if shortfall <= 0:
        return 0
    texts = math.ceil(shortfall / expected_yield(pool))
    batches = min(math.ceil(texts / size), settings.POOL_MAX_BATCHES_PER_TOP_UP)
    queue_batches(run, pool, batches, size)
    return batches


def requeue_stale_batches() -> list[int]:
    """Send lost batches again; running them twice is safe, so nothing is lost or duplicated."""
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
            generate_batch.delay_on_commit(batch_id)
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


def default_batch_size() -> int:
    if settings.GENERATION_BATCH_SIZE:
        return settings.GENERATION_BATCH_SIZE
    import torch  # imported here: the web process imports this module and never needs torch

    from generator.sampling import CPU_BATCH_SIZE, GPU_MAX_BATCH_SIZE

    return GPU_MAX_BATCH_SIZE // 2 if torch.cuda.is_available() else CPU_BATCH_SIZE


def new_sampling(temperature: float | None = None, seed: int | None = None) -> dict:
    """Sampling settings for one batch: a temperature drawn from the configured range."""
    rng = random.SystemRandom()
    if temperature is None:
        low, high = settings.GENERATION_TEMPERATURE_MIN, settings.GENERATION_TEMPERATURE_MAX
        temperature = round(rng.uniform(low, high), 3)
    return {
        "temperature": temperature,
        "top_p": settings.GENERATION_TOP_P,
        "top_k": settings.GENERATION_TOP_K,
        "repetition_penalty": settings.GENERATION_REPETITION_PENALTY,
        "max_new_tokens": settings.GENERATION_MAX_NEW_TOKENS,
        "seed": rng.randrange(2**62) if seed is None else seed,
    }


def queue_batches(run: ModelRun, pool: Pool | None, count: int, size: int) -> list[int]:
    """Create `count` batches and queue each one for a GPU worker once the rows are committed."""
    with transaction.atomic():
        batches = GenerationBatch.objects.bulk_create(
            [
                GenerationBatch(
                    model_run=run,
                    pool=pool,
                    kind=pool.kind if pool else "",
                    genre=pool.genre if pool else None,
                    requested=size,
                    sampling=new_sampling(),
                )
                for _ in range(count)
            ]
        )
        for batch in batches:
            generate_batch.delay_on_commit(batch.pk)
    return [batch.pk for batch in batches]


def note_served() -> None:
    """Called by the site after serving: nudge a top-up, at most once per interval."""
    try:
        if not cache.add(NUDGE_CACHE_KEY, 1, timeout=settings.POOL_NUDGE_INTERVAL):
            return
        top_up_pools.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - a cache or broker outage must never break a page view
        log.warning("top-up nudge failed; the next page view retries", exc_info=True)
        try:
            cache.delete(NUDGE_CACHE_KEY)
        except Exception:  # noqa: BLE001
            log.debug("cache unreachable too")


def real_titles() -> set[str]:
    from generator.filters import normalise_title  # filters pull in torch through sampling

    return {normalise_title(t) for t in TrainingTitle.objects.values_list("title", flat=True) if t}
