"""The proxy's per-route rate limits (site/config/proxy_limits.py), on a private redis-server: the
WSGI answers Caddy's forward_auth gets, the window, the client's network, a Redis outage, and the
Caddyfile naming exactly the routes the limits cover. deploy/topology.py checks it through Caddy."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.proxy_limits import (
    CHECK_PATH,
    WINDOW_SECONDS,
    Limiter,
    limit_for,
    limited_paths,
    make_application,
    redis_client,
)
from deploy.services import free_port, redis_command, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
CADDYFILE = ROOT / "deploy" / "Caddyfile"
# A minute's start, so a test's requests all fall in one window.
WINDOW_START = 1_800_000_000.0 - 1_800_000_000.0 % WINDOW_SECONDS


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    command = redis_command(port, tmp_path_factory.mktemp("redis"))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, 10, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def clock() -> list[float]:
    return [WINDOW_START + 5]


@pytest.fixture
def limiter(redis_url: str, clock: list[float]) -> Limiter:
    client = redis_client(redis_url)
    client.flushdb()
    return Limiter(client, now=lambda: clock[0])


def ask(limiter: Limiter, method: str, path: str, address: str) -> tuple[str, dict[str, str], str]:
    """What Caddy's forward_auth gets back for one request (status line, headers, body)."""
    answered: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {
        "PATH_INFO": CHECK_PATH,
        "REQUEST_METHOD": "GET",
        "HTTP_X_FORWARDED_METHOD": method,
        "HTTP_X_FORWARDED_URI": path,
        "HTTP_X_CLIENT_ADDRESS": address,
    }
    body = b"".join(
        make_application(limiter)(environ, lambda s, h: answered.append((s, h)))  # type: ignore[arg-type]
    )
    status, headers = answered[0]
    return status, dict(headers), body.decode()


def test_a_client_over_a_routes_limit_gets_429_with_retry_after(
    limiter: Limiter, clock: list[float]
) -> None:
    share = limit_for("GET", "/best/")
    assert share is not None

    statuses = [ask(limiter, "GET", "/best/", "203.0.113.7")[0] for _ in range(share.per_minute)]
    status, headers, body = ask(limiter, "GET", "/best/", "203.0.113.7")

    assert set(statuses) == {"200 OK"}
    assert status == "429 Too Many Requests"
    assert headers["Retry-After"] == str(WINDOW_SECONDS - 5)
    assert "Try again in 55 seconds" in body
    clock[0] += WINDOW_SECONDS  # the next minute
    assert ask(limiter, "GET", "/best/", "203.0.113.7")[0] == "200 OK"


def test_clients_routes_and_methods_are_counted_apart(limiter: Limiter) -> None:
    pitch = limit_for("POST", "/pitch/")
    assert pitch is not None
    for _ in range(pitch.per_minute):
        assert ask(limiter, "POST", "/pitch/", "198.51.100.1")[0] == "200 OK"

    assert ask(limiter, "POST", "/pitch/", "198.51.100.1")[0] == "429 Too Many Requests"
    assert ask(limiter, "POST", "/pitch/", "198.51.100.2")[0] == "200 OK"  # another client
    assert ask(limiter, "GET", "/pitch/", "198.51.100.1")[0] == "200 OK"  # the form is free
    assert ask(limiter, "GET", "/best/", "198.51.100.1")[0] == "200 OK"  # another route
    assert ask(limiter, "GET", "/", "198.51.100.1")[0] == "200 OK"  # a route with no limit


def test_an_ipv6_network_shares_one_count(limiter: Limiter) -> None:
    cards = limit_for("GET", "/d/abc123/card.png")
    assert cards is not None
    for host in range(cards.per_minute):
        status, _headers, _body = ask(limiter, "GET", "/d/abc123/card.png", f"2001:db8::{host:x}")
        assert status == "200 OK"

    assert ask(limiter, "GET", "/d/x/card.png", "2001:db8::ffff:1")[0] == "429 Too Many Requests"
    assert ask(limiter, "GET", "/d/x/card.png", "2001:db8:0:1::1")[0] == "200 OK"  # next /64


def test_a_query_string_does_not_make_another_route(limiter: Limiter) -> None:
    api = limit_for("GET", "/api/descriptions/random")
    assert api is not None
    for number in range(api.per_minute):
        ask(limiter, "GET", f"/api/descriptions/random?nonce={number}", "192.0.2.9")

    assert ask(limiter, "GET", "/api/descriptions/random?x=1", "192.0.2.9")[0].startswith("429")


def test_routes_match_as_caddy_matches_them() -> None:
    assert limit_for("POST", "/d/a1b2/vote/") is not None
    assert limit_for("POST", "/d/a1b2/report/") is not None
    assert limit_for("GET", "/sitemap-texts.xml") is not None
    assert limit_for("GET", "/sitemap.xml") is not None
    assert limit_for("GET", "/api/descriptions/a1b2") is not None
    # A middle `*` stays within one path segment; only a trailing one is a prefix.
    assert limit_for("GET", "/d/a1b2/extra/card.png") is None
    assert limit_for("GET", "/d/a1b2/") is None
    assert limit_for("GET", "/bestest/") is None


def test_a_redis_outage_refuses_pitches_and_lets_the_rest_through() -> None:
    # Port 1 on loopback: nothing listens, connections are refused at once.
    limiter = Limiter(redis_client("redis://127.0.0.1:1/0"))

    status, headers, body = ask(limiter, "POST", "/pitch/", "203.0.113.7")

    assert status == "503 Service Unavailable"
    assert headers["Retry-After"] == str(WINDOW_SECONDS)
    assert "Try again in a minute" in body
    assert ask(limiter, "GET", "/best/", "203.0.113.7")[0] == "200 OK"
    assert ask(limiter, "POST", "/d/a1/vote/", "203.0.113.7")[0] == "200 OK"


def test_keys_expire_after_their_window(limiter: Limiter, redis_url: str) -> None:
    ask(limiter, "GET", "/fresh/", "192.0.2.1")

    keys = redis.Redis.from_url(redis_url).keys("proxy-limit:*")
    assert len(keys) == 1
    assert 0 < redis.Redis.from_url(redis_url).ttl(keys[0]) <= 2 * WINDOW_SECONDS


def test_the_health_path_answers_and_other_paths_do_not(limiter: Limiter) -> None:
    answered: list[str] = []
    app = make_application(limiter)

    app({"PATH_INFO": "/healthz"}, lambda s, h: answered.append(s))
    app({"PATH_INFO": "/admin/"}, lambda s, h: answered.append(s))

    assert answered == ["200 OK", "404 Not Found"]


def test_the_caddyfile_sends_exactly_the_limited_routes_to_the_limiter() -> None:
    text = CADDYFILE.read_text()
    matcher = re.search(r"^\s*@limited path (.+)$", text, re.MULTILINE)
    forwarding = r"^\s*forward_auth @limited \{\$LIMITER[^}]*\} \{\n\s*uri (\S+)"
    forward = re.search(forwarding, text, re.MULTILINE)

    assert matcher is not None and forward is not None
    assert matcher.group(1).split() == limited_paths()
    assert forward.group(1) == CHECK_PATH
    assert "header_up X-Client-Address {remote_host}" in text
