"""Reports: one per visitor and description; enough of them send a text back to review."""

import re

import pytest
from django.test import Client

from generator.models import GeneratedDescription
from tests.serving_helpers import make_description
from web.models import Report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
HTMX = {"HTTP_HX_REQUEST": "true"}


def report(client: Client, description: GeneratedDescription, reason: str = "offensive") -> str:
    answer = client.post(f"/d/{description.pk}/report/", {"reason": reason}, **HTMX)
    assert answer.status_code == 200
    return answer.content.decode()


def test_a_visitor_reports_a_text_once() -> None:
    description = make_description()
    visitor = Client()

    first = report(visitor, description, "real_title")
    second = report(visitor, description, "broken")

    description.refresh_from_db()
    assert description.report_count == 1
    assert list(Report.objects.values_list("reason", flat=True)) == ["real_title"]
    assert "a moderator will look at it" in first
    assert "You have reported this already." in second
    assert "Reported. Thank you." in second


def test_reports_over_the_threshold_hide_the_text_for_review(settings) -> None:
    settings.REPORT_HIDE_THRESHOLD = 3
    description = make_description()
    Client().get("/")  # served once: public from now on

    for _ in range(2):
        report(Client(), description)
    description.refresh_from_db()
    still_public = description.status
    report(Client(), description)
    description.refresh_from_db()

    assert still_public == GeneratedDescription.Status.APPROVED
    assert description.status == GeneratedDescription.Status.PENDING
    assert description.report_count == 3
    assert Client().get(f"/d/{description.pk}/").status_code == 410
    assert re.search(r'data-description-id="', Client().get("/").content.decode()) is None


def test_a_report_needs_a_known_reason() -> None:
    description = make_description()

    answer = Client().post(f"/d/{description.pk}/report/", {"reason": "too good"})

    assert answer.status_code == 400
    assert Report.objects.count() == 0


def test_every_reason_is_offered_on_the_card() -> None:
    make_description()

    html = Client().get("/").content.decode()

    for value, label in Report.Reason.choices:
        assert f'name="reason" value="{value}">{label}</button>' in html
