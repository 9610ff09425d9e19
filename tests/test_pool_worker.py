"""A real Celery worker, in-process, against the configured real broker (filesystem or Redis)."""

import time
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from generator.models import GeneratedDescription, GenerationBatch, Pool
from generator.pools import fresh_count
from generator.tasks import top_up_pools
from titles.models import Genre, TrainingTitle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def small_pools(settings: Any) -> None:
    settings.POOL_LOW_WATER = 6
    settings.POOL_HIGH_WATER = 10
    settings.POOL_GENRE_LOW_WATER = 1
    settings.POOL_GENRE_HIGH_WATER = 2
    settings.POOL_TOP_GENRES = 1
    settings.GENERATION_BATCH_SIZE = 16
    settings.GENERATION_MAX_NEW_TOKENS = 48
    for name in ("Dramas", "Comedies", "TV Horror", "Docuseries", "Thrillers", "TV Comedies"):
        Genre.objects.create(name=name, slug=Genre.slug_for(name))
    title = TrainingTitle.objects.create(
        show_id="z1", kind="movie", title="Unrelated", description="d", source="netflix-csv"
    )
    title.genres.add(Genre.objects.get(name="Dramas"))


def _wait_for_batches(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    open_statuses = (GenerationBatch.Status.QUEUED, GenerationBatch.Status.RUNNING)
    while time.monotonic() < deadline:
        if (
            GenerationBatch.objects.exists()
            and not GenerationBatch.objects.filter(status__in=open_statuses).exists()
        ):
            return
        time.sleep(0.5)
    raise AssertionError("generation batches did not finish in time")


def test_a_worker_fills_every_pool_to_its_high_water_mark(
    small_pools: None, active_run: Any
) -> None:
    app.control.purge()
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=["default", "gpu"]
    ):
        # The tiny model repeats itself: a top-up of a pool one short can write only duplicates,
        # so the rounds go on (about a second each) until the next one writes something new.
        for _round in range(20):
            top_up_pools.delay()
            time.sleep(1)
            _wait_for_batches(120)
            pools = list(Pool.objects.all())
            if pools and all(fresh_count(pool) >= pool.high_water for pool in pools):
                break

    pools = list(Pool.objects.all())
    assert [pool.key for pool in pools] == ["all", "movie:dramas"]
    for pool in pools:
        assert fresh_count(pool) >= pool.high_water, pool.key
    hashes = list(GeneratedDescription.objects.values_list("text_hash", flat=True))
    assert len(hashes) == len(set(hashes))
    assert GenerationBatch.objects.filter(status=GenerationBatch.Status.DONE).exists()
