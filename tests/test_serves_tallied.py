"""A page view writes nothing: views are tallied per process and written in bulk off the request
path (web/served.py), and the walk's preference for never-served texts still holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory
from web.served import tally


@pytest.fixture
def tallied(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[None]]:
    """Views tallied with a timer too slow to fire during the test; yields the top-up nudges."""
    settings.SERVE_FLUSH_INTERVAL = 3600
    nudges: list[None] = []
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: nudges.append(None))
    tally.flush()
    yield nudges
    tally.flush()


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ]


@pytest.mark.django_db
def test_a_page_view_writes_nothing_and_the_flush_writes_every_view(tallied: list[None]) -> None:
    texts = GeneratedDescriptionFactory.create_batch(3)
    visitors = [Client(), Client()]

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            for visitor in visitors:
                assert visitor.get("/").status_code == 200

    assert _writes(queries) == []
    assert tally.pending() == 6
    assert sum(GeneratedDescription.objects.values_list("times_served", flat=True)) == 0

    assert tally.flush() == 6

    counts = GeneratedDescription.objects.filter(pk__in=[t.pk for t in texts])
    assert sum(counts.values_list("times_served", flat=True)) == 6
    assert not counts.filter(first_served_at__isnull=True).exists()
    assert tally.pending() == 0
    assert len(tallied) == 1  # one top-up nudge per write, not per view


@pytest.mark.django_db
def test_new_texts_still_come_first_once_the_tally_is_written(tallied: list[None]) -> None:
    GeneratedDescriptionFactory.create_batch(3)
    seen = Client().get("/").context["description"]
    tally.flush()

    starts = {Client().get("/").context["description"].pk for _ in range(12)}

    assert starts and seen.pk not in starts


@pytest.mark.django_db
def test_a_failed_write_keeps_the_views_for_the_next_one(
    tallied: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GeneratedDescriptionFactory.create()
    Client().get("/")
    Client().get("/")
    real_write = GeneratedDescription.objects.count_serves

    def locked(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(GeneratedDescription.objects, "count_serves", locked)
    assert tally.flush() == 0
    assert tally.pending() == 2
    monkeypatch.setattr(GeneratedDescription.objects, "count_serves", real_write)

    assert tally.flush() == 2
    text.refresh_from_db()
    assert text.times_served == 2


@pytest.mark.django_db(transaction=True)
def test_the_timer_writes_the_views_on_its_own(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SERVE_FLUSH_INTERVAL = 0.05
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: None)
    text = GeneratedDescriptionFactory.create()

    Client().get("/")
    assert tally.pending() == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and text.times_served == 0:
        time.sleep(0.02)
        text.refresh_from_db()

    assert text.times_served == 1
    assert text.first_served_at is not None
