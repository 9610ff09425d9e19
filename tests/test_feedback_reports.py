"""Reports: one per client address and text; enough of them send a text back to review."""

from typing import Any

import pytest
from django.test import Client

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory
from tests.pages import CARD_ID, report_token
from web.models import Report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
HTMX = {"HX-Request": "true"}
TOKENS: dict[tuple[int, int], str] = {}


def report(client: Client, description: GeneratedDescription, reason: str = "offensive") -> str:
    # The token of the page the visitor was shown, kept as a browser keeps the page open.
    key = (id(client), description.pk)
    if key not in TOKENS:
        TOKENS[key] = report_token(client, description.pk)
    seen = TOKENS[key]
    answer = client.post(
        f"/d/{description.pk}/report/", {"reason": reason, "seen": seen}, headers=HTMX
    )
    assert answer.status_code == 200
    return answer.content.decode()


def test_a_visitor_reports_a_text_once() -> None:
    description = GeneratedDescriptionFactory.create()
    visitor = Client()

    first = report(visitor, description, "real_title")
    second = report(visitor, description, "broken")

    description.refresh_from_db()
    assert description.report_count == 1
    assert list(Report.objects.values_list("reason", flat=True)) == ["real_title"]
    assert "a moderator will look at it" in first
    assert "You have reported this already." in second
    assert "Reported. Thank you." in second


def test_reports_over_the_threshold_hide_the_text_for_review(settings: Any) -> None:
    settings.REPORT_HIDE_THRESHOLD = 3
    description = GeneratedDescriptionFactory.create()
    Client().get("/")  # served once: public from now on

    for n in range(2):
        report(Client(REMOTE_ADDR=f"198.51.100.{n + 1}"), description)
    description.refresh_from_db()
    still_public = description.status
    report(Client(REMOTE_ADDR="198.51.100.3"), description)
    description.refresh_from_db()

    assert still_public == GeneratedDescription.Status.APPROVED
    assert description.status == GeneratedDescription.Status.PENDING
    assert description.report_count == 3
    assert Client().get(f"/d/{description.pk}/").status_code == 410
    assert CARD_ID.search(Client().get("/").content.decode()) is None


def test_a_report_needs_a_known_reason() -> None:
    description = GeneratedDescriptionFactory.create()

    answer = Client().post(f"/d/{description.pk}/report/", {"reason": "too good"})

    assert answer.status_code == 400
    assert Report.objects.count() == 0


def test_every_reason_is_offered_on_the_card() -> None:
    GeneratedDescriptionFactory.create()

    html = Client().get("/").content.decode()

    for value, label in Report.Reason.choices:
        assert f'name="reason" value="{value}">{label}</button>' in html
