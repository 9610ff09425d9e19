"""The site over the last day, hour by hour, for the admin's "Site health" page.

Pool levels and views come from health samples that beat takes every HEALTH_SAMPLE_INTERVAL
(`take_sample`; samples older than HEALTH_SAMPLE_RETENTION go at the same time). Batches, their
rejections and pitch latency are read from the batches and pitches themselves.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from generator.models import (
    GeneratedDescription,
    GenerationBatch,
    HealthSample,
    Pitch,
    PoolLevel,
    rejection_counts,
)
from generator.pools import fresh_count, sync_pools

HOURS = 24


def take_sample(now: datetime | None = None) -> HealthSample:
    """Record every pool's fresh texts and the views written so far; drop expired samples."""
    now = now or timezone.now()
    served = GeneratedDescription.objects.aggregate(total=Sum("times_served"))["total"] or 0
    pools = sync_pools()  # the pools the settings ask for, not those a change of them left behind
    with transaction.atomic():
        sample = HealthSample.objects.create(taken_at=now, texts_served=served)
        PoolLevel.objects.bulk_create(
            PoolLevel(sample=sample, pool=pool, fresh=fresh_count(pool), low_water=pool.low_water)
            for pool in pools
        )
    retention = timedelta(days=settings.HEALTH_SAMPLE_RETENTION_DAYS)
    HealthSample.objects.filter(taken_at__lt=now - retention).delete()
    return sample


@dataclass(frozen=True)
class PoolSeries:
    key: str
    low_water: int
    points: list[tuple[datetime, int]]  # (when sampled, fresh texts)


@dataclass
class LastDay:
    """Hour by hour, oldest first: hour_starts[i] begins the i-th bucket of every list."""

    hour_starts: list[datetime]
    pools: list[PoolSeries]
    served: list[int]
    batches: dict[str, list[int]] = field(default_factory=dict)  # by status
    rejections: dict[str, list[int]] = field(default_factory=dict)  # by reason
    pitches: list[int] = field(default_factory=list)  # finished, per hour
    pitch_median_seconds: list[float | None] = field(default_factory=list)
    pitch_slowest_seconds: list[float | None] = field(default_factory=list)
    samples: int = 0

    @property
    def start(self) -> datetime:
        return self.hour_starts[0]

    @property
    def end(self) -> datetime:
        return self.hour_starts[-1] + timedelta(hours=1)


def last_day(now: datetime | None = None) -> LastDay:
    now = now or timezone.now()
    current = now.replace(minute=0, second=0, microsecond=0)
    hour_starts = [current - timedelta(hours=HOURS - 1 - index) for index in range(HOURS)]
    day = LastDay(hour_starts=hour_starts, pools=[], served=[0] * HOURS)
    _add_samples(day)
    _add_batches(day)
    _add_pitches(day)
    return day


def _bucket(day: LastDay, when: datetime) -> int | None:
    index = int((when - day.start) // timedelta(hours=1))
    return index if 0 <= index < HOURS else None


def _add_samples(day: LastDay) -> None:
    # The sample just before the window too: the first hour's views are measured from it.
    before = HealthSample.objects.filter(taken_at__lt=day.start).order_by("-taken_at").first()
    samples = list(HealthSample.objects.filter(taken_at__gte=day.start, taken_at__lt=day.end))
    day.samples = len(samples)
    previous = before
    for sample in samples:
        index = _bucket(day, sample.taken_at)
        if previous is not None and index is not None:
            # A restore or deleted texts can lower the total: never count negative views.
            day.served[index] += max(0, sample.texts_served - previous.texts_served)
        previous = sample
    series: defaultdict[str, list[tuple[datetime, int]]] = defaultdict(list)
    low_water: dict[str, int] = {}
    levels = PoolLevel.objects.filter(sample__in=samples).select_related("pool", "sample")
    for level in levels.order_by("sample__taken_at"):
        series[level.pool.key].append((level.sample.taken_at, level.fresh))
        low_water[level.pool.key] = level.low_water  # the latest mark
    day.pools = [
        PoolSeries(key, low_water[key], series[key]) for key in sorted(series, key=_pool_order)
    ]


def _pool_order(key: str) -> tuple[bool, str]:
    return (key != "all", key)  # "all" first, then the kind x genre pools by name


def _add_batches(day: LastDay) -> None:
    batches = GenerationBatch.objects.filter(created_at__gte=day.start, created_at__lt=day.end)
    by_status: defaultdict[str, list[int]] = defaultdict(lambda: [0] * HOURS)
    by_reason: defaultdict[str, list[int]] = defaultdict(lambda: [0] * HOURS)
    for created_at, status, rejections in batches.values_list("created_at", "status", "rejections"):
        index = _bucket(day, created_at)
        if index is None:
            continue
        by_status[str(status)][index] += 1
        for reason, count in rejection_counts(rejections).items():
            by_reason[reason][index] += count
    day.batches = dict(sorted(by_status.items()))
    day.rejections = dict(sorted(by_reason.items(), key=lambda item: -sum(item[1])))


def _add_pitches(day: LastDay) -> None:
    finished = Pitch.objects.filter(
        status=Pitch.Status.DONE, finished_at__gte=day.start, finished_at__lt=day.end
    )
    took: defaultdict[int, list[float]] = defaultdict(list)
    for created_at, finished_at in finished.values_list("created_at", "finished_at"):
        if finished_at is None:
            continue  # the filter asks for a finish: this is for the type checker
        index = _bucket(day, finished_at)
        if index is not None:
            took[index].append((finished_at - created_at).total_seconds())
    day.pitches = [len(took[index]) for index in range(HOURS)]
    day.pitch_median_seconds = [
        statistics.median(took[index]) if took[index] else None for index in range(HOURS)
    ]
    day.pitch_slowest_seconds = [max(took[index], default=None) for index in range(HOURS)]
