from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def _login(client: Client, password: str, forwarded_for: str = "", username: str = "mod") -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    form = {"username": username, "password": password}
    return client.post("/admin/login/?next=/admin/", form, headers=headers).status_code


@pytest.fixture
def moderator() -> User:
    return User.objects.create_user("mod", password="correct horse battery", is_staff=True)


@pytest.mark.usefixtures("moderator")
def test_repeated_failures_lock_the_login_out(client: Client) -> None:
    failures = [_login(client, f"wrong-{attempt}") for attempt in range(5)]
    locked = _login(client, "correct horse battery")

    assert failures[:4] == [200, 200, 200, 200]
    assert locked == 429


@pytest.mark.usefixtures("moderator")
def test_a_good_login_before_the_limit_works(client: Client) -> None:
    _login(client, "wrong")

    assert _login(client, "correct horse battery") == 302


@pytest.mark.usefixtures("moderator")
def test_a_spoofed_forwarded_for_does_not_escape_the_lockout(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    attacker = Client(REMOTE_ADDR="203.0.113.7")  # not a trusted proxy

    for attempt in range(5):
        _login(attacker, f"wrong-{attempt}", forwarded_for=f"198.51.100.{attempt}")

    assert _login(attacker, "correct horse battery", forwarded_for="192.0.2.1") == 429


@pytest.mark.usefixtures("moderator")
def test_behind_the_proxy_the_lockout_is_per_visitor_and_per_name(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    User.objects.create_user("mod2", password="another good password", is_staff=True)
    proxy = Client(REMOTE_ADDR="10.0.0.5")

    for attempt in range(5):
        _login(proxy, f"wrong-{attempt}", forwarded_for="203.0.113.7")
    locked = _login(proxy, "another good password", forwarded_for="203.0.113.7", username="mod2")
    name_locked = _login(proxy, "correct horse battery", forwarded_for="198.51.100.2")
    other = _login(proxy, "another good password", forwarded_for="198.51.100.2", username="mod2")

    assert locked == 429  # that visitor's address, whatever name it tries next
    assert name_locked == 429  # that name, from any address: guessing it is spread out in vain
    assert other == 302  # another visitor, another name


@pytest.mark.usefixtures("moderator")
def test_a_guess_spread_over_an_ipv6_64_counts_as_one_address() -> None:
    for attempt in range(5):
        subscriber = Client(REMOTE_ADDR=f"2001:db8:1:2::{attempt + 1:x}")
        _login(subscriber, "wrong", username=f"name-{attempt}")

    neighbour = Client(REMOTE_ADDR="2001:db8:1:2:ffff::9")
    elsewhere = Client(REMOTE_ADDR="2001:db8:1:3::1")
    assert _login(neighbour, "correct horse battery") == 429
    assert _login(elsewhere, "correct horse battery") == 302


@pytest.mark.usefixtures("moderator")
def test_a_name_guessed_from_many_addresses_is_locked() -> None:
    for attempt in range(5):
        _login(Client(REMOTE_ADDR=f"198.51.100.{attempt + 10}"), f"wrong-{attempt}")

    assert _login(Client(REMOTE_ADDR="192.0.2.44"), "correct horse battery") == 429
