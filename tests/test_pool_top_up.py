from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from generator.models import GeneratedDescription, GenerationBatch, ModelRun, Pool
from generator.pools import fresh_count, requeue_stale_batches, sync_pools, top_up
from tests.factories import GenreFactory, TrainingTitleFactory, make_pool
from titles.models import Kind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_pools(settings: Any, db: None) -> None:
    settings.POOL_LOW_WATER = 10
    settings.POOL_HIGH_WATER = 40
    settings.POOL_GENRE_LOW_WATER = 2
    settings.POOL_GENRE_HIGH_WATER = 8
    settings.POOL_TOP_GENRES = 1
    TrainingTitleFactory.create(kind=Kind.MOVIE, genres=[GenreFactory.create(name="Dramas")])
    TrainingTitleFactory.create(kind=Kind.TV_SHOW, genres=[GenreFactory.create(name="TV Horror")])


def test_it_makes_an_all_pool_and_one_per_kind_and_top_genre() -> None:
    pools = sync_pools()

    assert [pool.key for pool in pools] == ["all", "movie:dramas", "tv:tv-horror"]
    assert [(p.low_water, p.high_water) for p in pools] == [(10, 40), (2, 8), (2, 8)]


def test_it_queues_just_enough_batches_for_the_shortfall(unloaded_run: ModelRun) -> None:
    results = {result.pool: result for result in top_up(batch_size=8)}

    # Empty pools: 40 wanted at the default 80% yield is 50 texts, 7 batches of 8.
    assert len(results["all"].batch_ids) == 7
    assert len(results["movie:dramas"].batch_ids) == 2
    batches = GenerationBatch.objects.filter(pool__key="movie:dramas").order_by("pk")
    assert (
        list(batches.values_list("kind", "genre__slug", "requested"))
        == [("movie", "dramas", 8)] * 2
    )
    low, high = settings.GENERATION_TEMPERATURE_MIN, settings.GENERATION_TEMPERATURE_MAX
    assert all(low <= batch.sampling["temperature"] <= high for batch in batches)
    assert all(batch.sampling["avoid_real_titles"] for batch in batches)


def test_it_never_queues_twice_for_the_same_shortfall(unloaded_run: ModelRun) -> None:
    top_up(batch_size=8)
    queued = GenerationBatch.objects.count()

    again = top_up(batch_size=8)

    assert GenerationBatch.objects.count() == queued
    # Every pool is still refilling, so each reports in, but what is in flight covers it.
    assert {result.pool: result.batch_ids for result in again} == {
        "all": [],
        "movie:dramas": [],
        "tv:tv-horror": [],
    }


def test_a_claimed_pool_is_left_to_the_other_top_up(unloaded_run: ModelRun) -> None:
    sync_pools()
    Pool.objects.update(claimed_until=timezone.now() + timedelta(seconds=30))

    assert top_up(batch_size=8) == []
    assert not GenerationBatch.objects.exists()


def test_pools_above_their_low_water_mark_are_left_alone(unloaded_run: ModelRun) -> None:
    make_pool(12, kind=Kind.MOVIE)

    results = {result.pool for result in top_up(batch_size=8)}

    assert fresh_count(Pool.objects.get(key="all")) == 12
    assert "all" not in results


def test_pitches_waiting_for_review_do_not_fill_a_pool(unloaded_run: ModelRun) -> None:
    make_pool(12, kind=Kind.MOVIE, status=GeneratedDescription.Status.PENDING)
    GeneratedDescription.objects.filter(
        pk__in=GeneratedDescription.objects.values("pk")[:5]
    ).update(pitched=True)

    assert fresh_count(sync_pools()[0]) == 7
    assert "all" in {result.pool for result in top_up(batch_size=8)}

    GeneratedDescription.objects.update(status=GeneratedDescription.Status.APPROVED)
    assert fresh_count(Pool.objects.get(key="all")) == 12


def test_it_does_nothing_without_an_active_run() -> None:
    assert top_up(batch_size=8) == []
    assert not GenerationBatch.objects.exists()


def test_lost_batches_are_sent_again_once(unloaded_run: ModelRun) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    lost = GenerationBatch.objects.create(
        model_run=unloaded_run, requested=8, status=GenerationBatch.Status.RUNNING
    )
    GenerationBatch.objects.filter(pk=lost.pk).update(started_at=long_ago)
    busy = GenerationBatch.objects.create(
        model_run=unloaded_run,
        requested=8,
        status=GenerationBatch.Status.RUNNING,
        started_at=timezone.now(),
    )

    assert requeue_stale_batches() == [lost.pk]
    assert requeue_stale_batches() == []
    lost.refresh_from_db()
    busy.refresh_from_db()
    assert lost.status == GenerationBatch.Status.QUEUED
    assert busy.status == GenerationBatch.Status.RUNNING


def test_a_refill_continues_until_the_high_water_mark(unloaded_run: ModelRun) -> None:
    make_pool(5, kind=Kind.TV_SHOW)  # below the low-water mark of 10: a refill starts
    assert "all" in {result.pool for result in top_up(batch_size=8)}
    GenerationBatch.objects.update(status=GenerationBatch.Status.DONE, accepted=8)
    make_pool(10, kind=Kind.TV_SHOW)  # 15: above low water, short of the high-water mark of 40

    assert "all" in {result.pool for result in top_up(batch_size=8)}
    assert Pool.objects.get(key="all").refilling is True

    make_pool(30, kind=Kind.TV_SHOW)  # 45: refilled
    assert "all" not in {result.pool for result in top_up(batch_size=8)}
    assert Pool.objects.get(key="all").refilling is False
