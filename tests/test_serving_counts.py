"""Serving counts each view and stamps the first one, then lets the pools decide on a top-up."""

import pytest
from django.test import Client

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("no_top_up_nudge")
def test_each_serve_counts_and_the_first_is_stamped_once() -> None:
    description = GeneratedDescriptionFactory.create()

    Client().get("/")
    description.refresh_from_db()
    first_stamp = description.first_served_at
    Client().get("/")
    description.refresh_from_db()

    assert description.times_served == 2
    assert first_stamp is not None
    assert description.first_served_at == first_stamp


def test_serving_nudges_the_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    nudges: list[None] = []
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: nudges.append(None))
    GeneratedDescriptionFactory.create()

    Client().get("/")
    Client().get("/")

    assert len(nudges) == 2


def test_an_empty_pool_serves_nothing_and_counts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    nudges: list[None] = []
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: nudges.append(None))
    GeneratedDescriptionFactory.create(status=GeneratedDescription.Status.PENDING)

    page = Client().get("/")

    assert page.status_code == 200
    assert "The projector is warming up" in page.content.decode()
    assert 'hx-trigger="every 10s"' in page.content.decode()
    assert nudges == []
    assert GeneratedDescription.objects.get().times_served == 0
