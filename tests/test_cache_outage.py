from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from generator.queueing import nudge_top_up

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "config.cache.ResilientRedisCache",
        # Port 1 on loopback: nothing listens, connections are refused at once.
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture
def redis_down(settings: Any) -> None:
    settings.CACHES = UNREACHABLE_REDIS
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"


def test_the_cache_degrades_to_misses(redis_down: None) -> None:
    cache = caches["default"]

    assert cache.get("k", "fallback") == "fallback"
    assert cache.add("k", 1) is False
    assert cache.get_or_set("k", 5) == 5
    cache.set("k", 1)
    assert cache.delete("k") is False
    with pytest.raises(ValueError):
        cache.incr("k")


def test_pages_and_the_nudge_survive_a_redis_outage(redis_down: None, client: Client) -> None:
    nudge_top_up()  # must not raise

    assert client.get("/").status_code == 200
    assert client.get("/about/").status_code == 200
