"""Reports cannot empty the site: only clients shown a text may report it, reports take down at
most REPORT_HIDES_PER_HOUR texts an hour, and what they take down never counts as fresh."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from generator.models import GeneratedDescription
from generator.pools import fresh_count, sync_pools
from tests.factories import make_pool
from tests.pages import report_token, token_for
from web.models import Report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
HTMX = {"HX-Request": "true"}
Status = GeneratedDescription.Status
LIST = "/admin/generator/generateddescription/"


@pytest.fixture(autouse=True)
def _one_report_hides(settings: Any) -> None:
    settings.REPORT_HIDE_THRESHOLD = 1
    settings.FEEDBACK_RATE_LIMIT = 1000


def _report(address: str, text: GeneratedDescription, seen: str | None) -> int:
    form = {"reason": "offensive", **({"seen": seen} if seen is not None else {})}
    client = Client(REMOTE_ADDR=address)
    return client.post(f"/d/{text.pk}/report/", form, headers=HTMX).status_code


def test_clients_never_shown_a_text_cannot_report_it() -> None:
    texts = make_pool(10)
    addresses = [f"127.0.0.{n}" for n in (2, 3, 4)]
    someone_else = token_for("127.0.0.99", texts[0])
    other_text = token_for("127.0.0.2", texts[1])

    answers = [_report(address, text, None) for address in addresses for text in texts]
    forged = [
        _report("127.0.0.2", texts[0], someone_else),  # a token another client was given
        _report("127.0.0.2", texts[0], other_text),  # a token for another text
        _report("127.0.0.2", texts[0], "1:abc:def:forged"),
    ]

    assert set(answers) == set(forged) == {403}
    assert not Report.objects.exists()
    assert GeneratedDescription.objects.filter(status=Status.APPROVED).count() == 10


def test_an_old_token_no_longer_reports(settings: Any) -> None:
    (text,) = make_pool(1)
    seen = token_for("127.0.0.2", text)
    settings.REPORT_TOKEN_MAX_AGE = -1  # already expired

    assert _report("127.0.0.2", text, seen) == 403
    assert not Report.objects.exists()


def test_a_report_keeps_the_text_its_reporter_saw() -> None:
    (text,) = make_pool(1)
    visitor = Client(REMOTE_ADDR="127.0.0.5")
    seen = report_token(visitor, text.pk)

    answer = visitor.post(f"/d/{text.pk}/report/", {"reason": "broken", "seen": seen})

    assert answer.status_code == 303
    assert Report.objects.get().seen_text_hash == text.text_hash


def test_reports_take_down_at_most_the_hourly_cap(settings: Any) -> None:
    settings.REPORT_HIDES_PER_HOUR = 2
    texts = make_pool(5)

    answers = [_report("127.0.0.7", text, token_for("127.0.0.7", text)) for text in texts]

    assert answers == [200] * 5
    assert Report.objects.count() == 5  # every report is kept for the moderators
    statuses = list(GeneratedDescription.objects.order_by("pk").values_list("status", "hidden_at"))
    assert [status for status, _ in statuses] == [Status.PENDING] * 2 + [Status.APPROVED] * 3
    assert [hidden is not None for _, hidden in statuses] == [True, True, False, False, False]
    moderator = Client()
    moderator.force_login(User.objects.create_superuser("root"))
    queue = moderator.get(f"{LIST}?queue=review").content.decode()
    assert "the site&#x27;s cap (REPORT_HIDES_PER_HOUR)" in queue
    # The capped texts, still public, wait in the review queue beside the hidden ones.
    for text in texts:
        assert f'href="{LIST}{text.pk}/change/' in queue


def test_texts_reports_took_down_are_not_fresh_and_a_decision_clears_them(settings: Any) -> None:
    settings.REPORT_HIDES_PER_HOUR = 100
    pool = sync_pools()[0]
    texts = make_pool(6)
    assert fresh_count(pool) == 6

    for text in texts[:4]:
        assert _report("127.0.0.8", text, token_for("127.0.0.8", text)) == 200

    assert fresh_count(pool) == 2  # the top-up sees the shortfall and refills
    moderator = Client()
    moderator.force_login(User.objects.create_superuser("root"))
    moderator.post(LIST, {"decide": f"approve:{texts[0].pk}"})
    texts[0].refresh_from_db()
    assert texts[0].status == Status.APPROVED and texts[0].hidden_at is None
    assert fresh_count(pool) == 3
