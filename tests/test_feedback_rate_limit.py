"""Votes and reports are rate-limited per client address."""

import pytest
from django.core.cache import cache
from django.test import Client

from tests.serving_helpers import make_pool

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    cache.clear()
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: None)
    settings.FEEDBACK_RATE_LIMIT = 3


def test_a_client_over_the_limit_is_told_to_slow_down() -> None:
    descriptions = make_pool(5)
    visitor = Client(REMOTE_ADDR="203.0.113.7")

    answers = [visitor.post(f"/d/{d.pk}/vote/", {"value": "up"}, **HTMX) for d in descriptions[:3]]
    limited = visitor.post(f"/d/{descriptions[3].pk}/report/", {"reason": "broken"}, **HTMX)
    plain = visitor.post(f"/d/{descriptions[4].pk}/vote/", {"value": "up"})

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert limited.status_code == 429
    assert "Too many clicks: wait a minute." in limited.content.decode()
    assert '<div class="feedback">' in limited.content.decode()  # swapped in place by htmx
    assert plain.status_code == 429
    assert descriptions[3].reports.count() == 0


def test_other_clients_are_not_limited() -> None:
    descriptions = make_pool(4)
    for description in descriptions[:3]:
        Client(REMOTE_ADDR="203.0.113.7").post(f"/d/{description.pk}/vote/", {"value": "up"})

    other = Client(REMOTE_ADDR="198.51.100.2").post(
        f"/d/{descriptions[3].pk}/vote/", {"value": "up"}, **HTMX
    )

    assert other.status_code == 200
