"""The admin's "Site health" page: beat's samples, the last day hour by hour, and its charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from generator import site_health
from generator.admin import health_charts
from generator.models import GeneratedDescription, GenerationBatch, HealthSample, Pitch
from generator.pools import sync_pools
from generator.tasks import sample_health
from tests.factories import GeneratedDescriptionFactory, ModelRunFactory, PitchFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 18, 40, tzinfo=UTC)


def _batch(created_at: datetime, status: str, rejections: dict[str, int]) -> GenerationBatch:
    batch = GenerationBatch.objects.create(
        model_run=ModelRunFactory.create(), requested=8, status=status, rejections=rejections
    )
    GenerationBatch.objects.filter(pk=batch.pk).update(created_at=created_at)
    return batch


def _pitch(finished_at: datetime, seconds: float) -> Pitch:
    pitch = PitchFactory.create(status=Pitch.Status.DONE, finished_at=finished_at)
    created = finished_at - timedelta(seconds=seconds)
    Pitch.objects.filter(pk=pitch.pk).update(created_at=created)
    return pitch


def test_a_sample_records_each_pools_fresh_texts_and_the_views_so_far() -> None:
    sync_pools()
    GeneratedDescriptionFactory.create_batch(3, times_served=2)
    GeneratedDescriptionFactory.create(status=GeneratedDescription.Status.REJECTED)

    sample = HealthSample.objects.get(pk=sample_health())

    assert sample.texts_served == 6
    levels = {level.pool.key: level.fresh for level in sample.pool_levels.select_related("pool")}
    assert levels["all"] == 3
    assert set(levels) == {pool.key for pool in sync_pools()}


def test_samples_older_than_the_retention_go_when_the_next_is_taken(settings: object) -> None:
    old = site_health.take_sample(NOW - timedelta(days=8))
    kept = site_health.take_sample(NOW - timedelta(days=6))

    site_health.take_sample(NOW)

    assert not HealthSample.objects.filter(pk=old.pk).exists()
    assert HealthSample.objects.filter(pk=kept.pk).exists()


def test_the_day_counts_views_batches_rejections_and_pitch_latency_by_hour() -> None:
    sync_pools()
    text = GeneratedDescriptionFactory.create()
    GeneratedDescriptionFactory.create()  # never served: the one fresh text
    site_health.take_sample(NOW - timedelta(hours=30))  # before the window: the first baseline
    GeneratedDescription.objects.filter(pk=text.pk).update(times_served=5)
    site_health.take_sample(NOW - timedelta(hours=2, minutes=30))
    GeneratedDescription.objects.filter(pk=text.pk).update(times_served=12)
    site_health.take_sample(NOW - timedelta(minutes=10))
    _batch(NOW - timedelta(minutes=20), GenerationBatch.Status.DONE, {"too_short": 2, "copy": 1})
    _batch(NOW - timedelta(minutes=5), GenerationBatch.Status.FAILED, {})
    _batch(NOW - timedelta(days=2), GenerationBatch.Status.DONE, {"too_short": 50})
    _pitch(NOW - timedelta(minutes=30), 4.0)
    _pitch(NOW - timedelta(minutes=15), 10.0)
    _pitch(NOW - timedelta(minutes=12), 6.0)

    day = site_health.last_day(NOW)

    assert day.hour_starts[-1] == datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    assert day.samples == 2
    assert day.served[-3] == 5 and day.served[-1] == 7 and sum(day.served) == 12
    assert day.batches == {"done": [0] * 23 + [1], "failed": [0] * 23 + [1]}
    assert day.rejections == {"too_short": [0] * 23 + [2], "copy": [0] * 23 + [1]}
    assert day.pitches[-1] == 3
    assert day.pitch_median_seconds[-1] == 6.0 and day.pitch_slowest_seconds[-1] == 10.0
    assert day.pitch_median_seconds[-2] is None
    all_pool = next(series for series in day.pools if series.key == "all")
    assert day.pools[0] is all_pool
    assert [fresh for _, fresh in all_pool.points] == [1, 1]


def test_staff_see_the_page_with_every_chart(client: Client) -> None:
    staff = User.objects.create_superuser("moderator", "m@example.com", "a long passphrase")
    client.force_login(staff)
    sync_pools()
    GeneratedDescriptionFactory.create(times_served=3)  # served enough: no longer fresh
    GeneratedDescriptionFactory.create()
    now = datetime.now(UTC)
    site_health.take_sample(now - timedelta(minutes=50))
    site_health.take_sample(now)
    _batch(now, GenerationBatch.Status.DONE, {"<b>odd reason</b>": 2})
    _pitch(now, 3.0)

    page = client.get(reverse("admin:generator_healthsample_changelist"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Site health</h1>" in html
    assert html.count('class="health-chart"') == len(sync_pools()) + 4
    assert 'all: <span class="health-low">1 fresh</span>, low water 50' in html
    assert " done: 1</title>" in html
    assert "&lt;b&gt;odd reason&lt;/b&gt;: 2" in html and "<b>odd reason</b>" not in html
    assert "Pitches: 1 written" in html
    assert re.search(r"2 samples beat takes\s+every 5 minutes", html)


def test_the_page_is_for_staff_only(client: Client) -> None:
    page = client.get(reverse("admin:generator_healthsample_changelist"))

    assert page.status_code == 302
    assert "login" in page["Location"]


def test_an_empty_day_draws_empty_charts_and_says_why(client: Client) -> None:
    client.force_login(User.objects.create_superuser("moderator", "m@example.com", "pw pw pw"))

    html = client.get(reverse("admin:generator_healthsample_changelist")).content.decode()

    assert "none yet, so" in html
    assert "No pool has been sampled yet." in html


def test_the_axis_top_is_a_round_number_at_or_above_the_largest_value() -> None:
    assert [health_charts._nice_ceiling(v) for v in (0, 0.3, 7, 11, 240, 2600)] == [
        1.0,
        0.5,
        10.0,
        20.0,
        250.0,
        5000.0,
    ]
