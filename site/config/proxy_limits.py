"""Per-route rate limits that the proxy applies before a request reaches gunicorn.

Caddy's `forward_auth` (deploy/Caddyfile) sends the method, path and client address of every
request to an expensive route here first; this answers 200 (go on) or 429 with Retry-After,
which Caddy hands to the client as it is. It is a plain WSGI application on Redis (compose's
`limiter` service), not Django: a flood it turns away costs no sync worker and no database.

    gunicorn --chdir site "config.proxy_limits:from_environment()"

Counts are per client network (an IPv6 /64, as config.client counts it), per route, in fixed
one-minute windows. The app's own limits (pitches per hour, feedback per minute) still apply
behind these; these bound the work a client can ask for before any of it starts.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from http import HTTPStatus

import redis

from config.client import network_of

WINDOW_SECONDS = 60
KEY_PREFIX = "proxy-limit"
CHECK_PATH = "/check"
HEALTH_PATH = "/healthz"
# Redis is on the local network: a limiter that waits longer only slows every limited request.
REDIS_TIMEOUT_SECONDS = 0.25


@dataclass(frozen=True)
class RouteLimit:
    """At most `per_minute` requests a minute from one client network to `paths` (Caddy path
    patterns: `*` is any run of characters within a path segment, or anything at the end) with
    one of `methods`. `refuse_when_uncounted`: a Redis outage turns requests away (503) rather
    than letting them through uncounted."""

    name: str
    paths: tuple[str, ...]
    methods: frozenset[str]
    per_minute: int
    refuse_when_uncounted: bool = False

    @cached_property
    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_path_pattern(path) for path in self.paths)

    def applies_to(self, method: str, path: str) -> bool:
        return method in self.methods and any(p.fullmatch(path) for p in self._patterns)


READS = frozenset({"GET", "HEAD"})
ROUTE_LIMITS: tuple[RouteLimit, ...] = (
    # Each pitch queues sampling on the worker; the app allows 5 an hour per client on top.
    RouteLimit("pitch", ("/pitch/",), frozenset({"POST"}), 6, refuse_when_uncounted=True),
    RouteLimit("feedback", ("/d/*/vote/", "/d/*/report/"), frozenset({"POST"}), 60),
    RouteLimit("share-card", ("/d/*/card.png",), READS, 60),
    RouteLimit("api", ("/api/*",), READS, 120),
    RouteLimit("lists", ("/best/", "/fresh/", "/feed/", "/sitemap*.xml"), READS, 60),
)


def limited_paths(limits: Iterable[RouteLimit] = ROUTE_LIMITS) -> list[str]:
    """Every path pattern a limit names, in order: what the Caddyfile's @limited must match."""
    return [path for limit in limits for path in limit.paths]


def limit_for(method: str, path: str) -> RouteLimit | None:
    return next((limit for limit in ROUTE_LIMITS if limit.applies_to(method, path)), None)


@dataclass(frozen=True)
class Decision:
    status: int  # 200 to let the request through, 429 over the limit, 503 uncounted
    retry_after: int = 0  # seconds, with 429 and 503

    @property
    def allowed(self) -> bool:
        return self.status == 200


class Limiter:
    """Counts requests in Redis and decides; `now` is injectable for tests of the window."""

    def __init__(self, client: redis.Redis, now: Callable[[], float] = time.time) -> None:
        self.client = client
        self.now = now

    def decide(self, method: str, path: str, address: str) -> Decision:
        limit = limit_for(method.upper(), path)
        if limit is None:
            return Decision(200)
        now = self.now()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, WINDOW_SECONDS * (window + 1) - int(now))
        key = f"{KEY_PREFIX}:{limit.name}:{network_of(address)}:{window}"
        try:
            pipeline = self.client.pipeline()
            pipeline.incr(key)
            pipeline.expire(key, 2 * WINDOW_SECONDS)
            count = int(pipeline.execute()[0])
        except redis.RedisError:
            return Decision(503, WINDOW_SECONDS) if limit.refuse_when_uncounted else Decision(200)
        if count > limit.per_minute:
            return Decision(429, retry_after)
        return Decision(200)


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


_MESSAGES = {
    429: "Too many requests from your network. Try again in {seconds} seconds.\n",
    503: "Busy: this cannot be counted right now. Try again in a minute.\n",
}
StartResponse = Callable[[str, list[tuple[str, str]]], object]
Application = Callable[[dict[str, object], StartResponse], list[bytes]]


def make_application(limiter: Limiter) -> Application:
    def application(environ: dict[str, object], start_response: StartResponse) -> list[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path == HEALTH_PATH:
            return _answer(start_response, 200, b"ok\n")
        if path != CHECK_PATH:
            return _answer(start_response, 404, b"not found\n")
        # Caddy's forward_auth names the original request in these; header_up sets the address.
        decision = limiter.decide(
            str(environ.get("HTTP_X_FORWARDED_METHOD", "")),
            str(environ.get("HTTP_X_FORWARDED_URI", "")).split("?", 1)[0],
            str(environ.get("HTTP_X_CLIENT_ADDRESS", "")),
        )
        if decision.allowed:
            return _answer(start_response, 200, b"")
        body = _MESSAGES[decision.status].format(seconds=decision.retry_after).encode()
        headers = [("Retry-After", str(decision.retry_after))]
        return _answer(start_response, decision.status, body, headers)

    return application


def _answer(
    start_response: StartResponse,
    status: int,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *(headers or []),
        ],
    )
    return [body]


def _path_pattern(path: str) -> re.Pattern[str]:
    """A Caddy path pattern as a regular expression (a trailing `*` is a prefix match)."""
    if path.endswith("*") and "*" not in path[:-1]:
        return re.compile(re.escape(path[:-1]) + ".*")
    return re.compile("[^/]*".join(re.escape(part) for part in path.split("*")))


def from_environment() -> Application:
    """The application gunicorn serves, counting in the Redis that REDIS_URL names."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        raise RuntimeError("the proxy's rate limiter needs REDIS_URL")
    return make_application(Limiter(redis_client(url)))
