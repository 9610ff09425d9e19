"""A Redis cache that degrades to a miss while Redis is down, so pages keep coming.

The cache only holds what can be recomputed (rate-limit counters, the top-up nudge, genre lists):
an outage costs a query or lets a rate limit through, never a page view.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError, TimeoutError

log = logging.getLogger(__name__)

WARN_EVERY_SECONDS = 30.0
_OUTAGES = (ConnectionError, TimeoutError, OSError)
_last_warning = [0.0]


def _warn(operation: str, exc: Exception) -> None:
    # One line per interval, not one per request, during an outage.
    now = time.monotonic()
    if now - _last_warning[0] > WARN_EVERY_SECONDS:
        _last_warning[0] = now
        log.warning("cache %s failed, carrying on without the cache: %s", operation, exc)


def _degrade(method: Callable[..., Any], fallback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _OUTAGES as exc:
            _warn(method.__name__, exc)
            return fallback(*args, **kwargs)

    return wrapper


def _missing_key(*args: Any, **kwargs: Any) -> int:
    # Callers of incr() already handle a missing key; during an outage every key is missing.
    raise ValueError("cache unavailable")


class ResilientRedisCache(RedisCache):
    get = _degrade(RedisCache.get, lambda key, default=None, version=None: default)
    get_many = _degrade(RedisCache.get_many, lambda *args, **kwargs: {})
    has_key = _degrade(RedisCache.has_key, lambda *args, **kwargs: False)
    add = _degrade(RedisCache.add, lambda *args, **kwargs: False)
    set = _degrade(RedisCache.set, lambda *args, **kwargs: None)
    set_many = _degrade(RedisCache.set_many, lambda data, *args, **kwargs: list(data))
    touch = _degrade(RedisCache.touch, lambda *args, **kwargs: False)
    delete = _degrade(RedisCache.delete, lambda *args, **kwargs: False)
    delete_many = _degrade(RedisCache.delete_many, lambda *args, **kwargs: None)
    incr = _degrade(RedisCache.incr, _missing_key)
