"""One client address is one voter and one reporter per text, whatever cookies it drops."""

import hashlib
import hmac
from typing import Any

import pytest
from django.test import Client

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory
from tests.pages import token_for
from web.models import Report, Vote, client_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
HTMX = {"HX-Request": "true"}
ATTACKER = "203.0.113.7"


def _report(address: str, description: GeneratedDescription, **headers: str) -> int:
    # A fresh Client per request: no cookie survives from one request to the next.
    seen = token_for(address, description)
    client = Client(REMOTE_ADDR=address)
    answer = client.post(
        f"/d/{description.pk}/report/",
        {"reason": "offensive", "seen": seen},
        headers={**HTMX, **headers},
    )
    return answer.status_code


def _vote(address: str, description: GeneratedDescription) -> int:
    client = Client(REMOTE_ADDR=address)
    return client.post(f"/d/{description.pk}/vote/", {"value": "up"}, headers=HTMX).status_code


def test_three_cookieless_sessions_from_one_address_cannot_hide_a_text(settings: Any) -> None:
    settings.REPORT_HIDE_THRESHOLD = 3
    description = GeneratedDescriptionFactory.create()
    Client().get(f"/d/{description.pk}/")

    answers = [_report(ATTACKER, description) for _ in range(3)]

    description.refresh_from_db()
    assert answers == [200, 200, 200]
    assert description.report_count == 1
    assert description.status == GeneratedDescription.Status.APPROVED
    assert Client().get(f"/d/{description.pk}/").status_code == 200


def test_ten_cookieless_sessions_from_one_address_add_one_vote() -> None:
    description = GeneratedDescriptionFactory.create()

    for _ in range(10):
        _vote(ATTACKER, description)

    description.refresh_from_db()
    assert description.up_votes == 1
    assert Vote.objects.count() == 1


def test_reports_from_enough_addresses_still_hide_a_text(settings: Any) -> None:
    settings.REPORT_HIDE_THRESHOLD = 3
    description = GeneratedDescriptionFactory.create()

    for n in range(3):
        _report(f"198.51.100.{n + 1}", description)

    description.refresh_from_db()
    assert description.report_count == 3
    assert description.status == GeneratedDescription.Status.PENDING


def test_the_address_is_kept_only_as_a_keyed_hash(settings: Any) -> None:
    settings.FEEDBACK_HASH_KEY = "a-dedicated-feedback-key"
    description = GeneratedDescriptionFactory.create()

    _report(ATTACKER, description)
    _vote(ATTACKER, description)

    stored = {Report.objects.get().client_key, Vote.objects.get().client_key}
    unkeyed = hashlib.sha256(ATTACKER.encode()).hexdigest()
    assert len(stored) == 1
    (key,) = stored
    assert ATTACKER not in key and key not in unkeyed
    assert key == client_key(ATTACKER)
    assert key != hmac.new(b"another-key", ATTACKER.encode(), hashlib.sha256).hexdigest()[:32]
    settings.FEEDBACK_HASH_KEY = "another-key"
    assert client_key(ATTACKER) != key


def test_without_a_dedicated_key_the_hash_is_keyed_by_the_secret_key(settings: Any) -> None:
    settings.FEEDBACK_HASH_KEY = ""
    first = client_key(ATTACKER)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40

    assert client_key(ATTACKER) != first
    assert len(first) == 32 and int(first, 16) >= 0


def test_addresses_in_one_ipv6_64_count_as_one() -> None:
    description = GeneratedDescriptionFactory.create()

    for n in range(5):
        _vote(f"2001:db8:1:2::{n + 1}", description)
    _vote("2001:db8:1:3::1", description)

    description.refresh_from_db()
    assert description.up_votes == 2


def test_a_forged_forwarded_for_without_a_proxy_counts_once(settings: Any) -> None:
    settings.REPORT_HIDE_THRESHOLD = 3
    description = GeneratedDescriptionFactory.create()

    for n in range(5):
        _report(ATTACKER, description, **{"X-Forwarded-For": f"192.0.2.{n}"})

    description.refresh_from_db()
    assert description.report_count == 1


def test_behind_a_trusted_proxy_each_forwarded_client_counts(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 1, ["10.0.0.0/8"]
    description = GeneratedDescriptionFactory.create()

    for _ in range(3):
        _vote("10.0.0.5", description)  # the proxy itself, without a header: one voter
    for n in range(4):
        client = Client(REMOTE_ADDR="10.0.0.5")
        headers = {**HTMX, "X-Forwarded-For": f"198.51.100.{n + 1}"}
        client.post(f"/d/{description.pk}/vote/", {"value": "up"}, headers=headers)

    description.refresh_from_db()
    assert description.up_votes == 5


def test_the_page_shows_the_addresses_vote_and_report() -> None:
    description = GeneratedDescriptionFactory.create()
    _vote(ATTACKER, description)
    _report(ATTACKER, description)

    mine = Client(REMOTE_ADDR=ATTACKER).get(f"/d/{description.pk}/").content.decode()
    theirs = Client(REMOTE_ADDR="198.51.100.9").get(f"/d/{description.pk}/").content.decode()

    assert 'value="up" aria-pressed="true"' in mine
    assert 'value="up" aria-pressed="false"' in theirs
    assert "Reported. Thank you." in mine and "Reported. Thank you." not in theirs
