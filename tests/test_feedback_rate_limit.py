"""Votes and reports are rate-limited per client address (django-ratelimit, config.client)."""

import os
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.test import Client, RequestFactory

from config.client import client_address
from tests.factories import make_pool

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    cache.clear()
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: None)
    settings.FEEDBACK_RATE_LIMIT = 3


@pytest.fixture
def behind_a_proxy(settings: Any) -> None:
    """One TLS proxy in front of gunicorn, connecting from the 10.0.0.0/8 network."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]


def _vote(client: Client, pk: int, forwarded_for: str = "") -> int:
    headers = {**HTMX, "X-Forwarded-For": forwarded_for} if forwarded_for else HTMX
    return client.post(f"/d/{pk}/vote/", {"value": "up"}, headers=headers).status_code


def test_a_client_over_the_limit_is_told_to_slow_down() -> None:
    descriptions = make_pool(5)
    visitor = Client(REMOTE_ADDR="203.0.113.7")

    answers = [
        visitor.post(f"/d/{d.pk}/vote/", {"value": "up"}, headers=HTMX) for d in descriptions[:3]
    ]
    limited = visitor.post(f"/d/{descriptions[3].pk}/report/", {"reason": "broken"}, headers=HTMX)
    plain = visitor.post(f"/d/{descriptions[4].pk}/vote/", {"value": "up"})

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert limited.status_code == 429
    assert "Too many clicks: wait a minute." in limited.content.decode()
    assert '<div class="feedback">' in limited.content.decode()  # swapped in place by htmx
    assert plain.status_code == 429
    assert "Too many clicks: wait a minute." in plain.content.decode()
    assert descriptions[3].reports.count() == 0
    assert descriptions[4].votes.count() == 0


def test_other_clients_are_not_limited() -> None:
    descriptions = make_pool(4)
    for description in descriptions[:3]:
        Client(REMOTE_ADDR="203.0.113.7").post(f"/d/{description.pk}/vote/", {"value": "up"})

    other = Client(REMOTE_ADDR="198.51.100.2").post(
        f"/d/{descriptions[3].pk}/vote/", {"value": "up"}, headers=HTMX
    )

    assert other.status_code == 200


def test_a_spoofed_forwarded_for_without_a_proxy_does_not_change_the_address() -> None:
    descriptions = make_pool(4)
    visitor = Client(REMOTE_ADDR="203.0.113.7")

    answers = [
        _vote(visitor, d.pk, forwarded_for=f"198.51.100.{n}") for n, d in enumerate(descriptions)
    ]

    assert answers == [200, 200, 200, 429]


@pytest.mark.usefixtures("behind_a_proxy")
def test_a_spoofed_forwarded_for_from_a_peer_that_is_not_the_proxy_is_ignored() -> None:
    descriptions = make_pool(4)
    visitor = Client(REMOTE_ADDR="203.0.113.7")  # outside TRUSTED_PROXIES: connects directly

    answers = [
        _vote(visitor, d.pk, forwarded_for=f"198.51.100.{n}") for n, d in enumerate(descriptions)
    ]

    assert answers == [200, 200, 200, 429]


@pytest.mark.usefixtures("behind_a_proxy")
def test_behind_the_proxy_each_visitor_has_their_own_count() -> None:
    descriptions = make_pool(5)
    proxy = Client(REMOTE_ADDR="10.0.0.5")

    # The visitor forges the left of the header; the proxy appends the address it saw.
    first = [
        _vote(proxy, d.pk, forwarded_for=f"192.0.2.{n}, 198.51.100.9")
        for n, d in enumerate(descriptions[:4])
    ]
    second = _vote(proxy, descriptions[4].pk, forwarded_for="198.51.100.10")

    assert first == [200, 200, 200, 429]
    assert second == 200


def test_the_client_address_follows_the_configured_proxies(settings: Any) -> None:
    factory = RequestFactory()
    forwarded = "192.0.2.1, 198.51.100.9, 10.1.2.3"
    request = factory.get("/", REMOTE_ADDR="10.0.0.5", headers={"X-Forwarded-For": forwarded})

    settings.TRUSTED_PROXY_COUNT = 0
    direct = client_address(request)
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 1, ["10.0.0.0/8"]
    one_hop = client_address(request)
    settings.TRUSTED_PROXY_COUNT = 2
    two_hops = client_address(request)
    settings.TRUSTED_PROXIES = ["2001:db8::/32"]
    untrusted_peer = client_address(request)

    assert direct == "10.0.0.5"
    assert one_hop == "10.1.2.3"
    assert two_hops == "198.51.100.9"
    assert untrusted_peer == "10.0.0.5"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)")
def test_the_count_lives_in_redis_so_every_worker_shares_it() -> None:
    descriptions = make_pool(3)
    visitor = Client(REMOTE_ADDR="203.0.113.7")

    for description in descriptions:
        _vote(visitor, description.pk)

    server = redis.Redis.from_url(os.environ["REDIS_URL"])
    counters = [key for key in server.scan_iter("tmdne:*rl:*")]
    assert len(counters) == 1
    assert server.get(counters[0]) == b"3"
