"""With Redis unreachable, django-redis (IGNORE_EXCEPTIONS) turns every cache call into a miss."""

import logging
import os
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from generator.queueing import nudge_top_up
from tests.factories import make_pool

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        # Port 1 on loopback: nothing listens, connections are refused at once.
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
}


@pytest.fixture
def redis_down(settings: Any) -> None:
    settings.CACHES = UNREACHABLE_REDIS
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"


def test_the_project_settings_ignore_and_log_redis_errors(settings: Any) -> None:
    assert settings.DJANGO_REDIS_IGNORE_EXCEPTIONS is True
    assert settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS is True
    assert settings.RATELIMIT_FAIL_OPEN is True


def test_the_cache_degrades_to_misses(redis_down: None, caplog: pytest.LogCaptureFixture) -> None:
    cache = caches["default"]

    with caplog.at_level(logging.ERROR):
        assert cache.get("k", "fallback") == "fallback"
        assert not cache.add("k", 1)
        assert cache.get_or_set("k", 5) == 5
        cache.set("k", 1)
        assert not cache.delete("k")
        assert cache.incr("k") is None

    assert any("ConnectionError" in record.exc_text for record in caplog.records if record.exc_text)


def test_pages_and_the_nudge_survive_a_redis_outage(redis_down: None, client: Client) -> None:
    nudge_top_up()  # must not raise

    assert client.get("/").status_code == 200
    assert client.get("/about/").status_code == 200


def test_feedback_is_let_through_while_the_rate_limit_cannot_count(
    redis_down: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: None)
    settings.FEEDBACK_RATE_LIMIT = 1
    descriptions = make_pool(3)
    visitor = Client(REMOTE_ADDR="203.0.113.7")

    answers = [visitor.post(f"/d/{d.pk}/vote/", {"value": "up"}).status_code for d in descriptions]

    assert answers == [303, 303, 303]
    assert sum(d.votes.count() for d in descriptions) == 3


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)")
def test_with_redis_up_the_same_calls_hit() -> None:
    cache = caches["default"]

    assert cache.add("outage-test", 1) is True
    assert cache.incr("outage-test") == 2
    assert cache.get("outage-test") == 2
    assert cache.delete("outage-test") is True
