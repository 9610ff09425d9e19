"""A moderator's approval clears a text's reports and makes it harder to hide again.

The rule: after an approval, hiding a text takes REPORT_HIDE_THRESHOLD new reports plus one
for every report the moderator overruled (3, then 3 + 3 = 6, then 3 + 9 = 12, ...).
"""

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from generator import moderation
from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory
from tests.pages import token_for
from web.models import Report, client_key, hide_threshold

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
Status = GeneratedDescription.Status
LIST = "/admin/generator/generateddescription/"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _threshold(settings: Any) -> None:
    settings.REPORT_HIDE_THRESHOLD = 3


@pytest.fixture
def moderator_client() -> Client:
    User.objects.create_user("moderator")
    call_command("setup_moderators", "moderator", stdout=StringIO())
    client = Client()
    client.force_login(User.objects.get(username="moderator"))
    return client


def _report_from(addresses: range, description: GeneratedDescription, net: str) -> list[int]:
    answers = []
    for n in addresses:
        client = Client(REMOTE_ADDR=f"{net}.{n}")
        seen = token_for(f"{net}.{n}", description)
        form = {"reason": "offensive", "seen": seen}
        answers.append(client.post(f"/d/{description.pk}/report/", form, headers=HTMX).status_code)
    return answers


def _approve(client: Client, description: GeneratedDescription) -> None:
    response = client.post(
        f"{LIST}?queue=review",
        {"action": "approve_selected", "_selected_action": [description.pk], "index": 0},
    )
    assert response.status_code == 302


def _state(description: GeneratedDescription) -> tuple[str, int]:
    description.refresh_from_db()
    return description.status, description.report_count


def test_an_approved_text_needs_more_reports_than_before_to_be_hidden(
    moderator_client: Client,
) -> None:
    text = GeneratedDescriptionFactory.create()
    _report_from(range(1, 4), text, "198.51.100")
    hidden_first = _state(text)

    _approve(moderator_client, text)
    after_approval = _state(text)
    again = _report_from(range(1, 4), text, "198.51.100")  # the same three: already counted
    _report_from(range(1, 6), text, "192.0.2")  # five new reporters: not yet enough
    five_new = _state(text)
    _report_from(range(6, 7), text, "192.0.2")
    six_new = _state(text)

    assert hidden_first == (Status.PENDING, 3)
    assert after_approval == (Status.APPROVED, 0)
    assert again == [200, 200, 200]
    assert five_new == (Status.APPROVED, 5)
    assert six_new == (Status.PENDING, 6)
    assert Report.objects.filter(description=text).count() == 9


def test_each_approval_raises_the_threshold_again() -> None:
    text = GeneratedDescriptionFactory.create()
    moderator = User.objects.create_user("moderator")
    thresholds = [hide_threshold(text)]

    for round_, net in enumerate(("198.51.100", "192.0.2", "203.0.113")):
        _report_from(range(1, thresholds[-1] + 1), text, net)
        assert _state(text) == (Status.PENDING, thresholds[-1]), round_
        moderation.decide([text], moderation.DECISIONS["approve"], moderator)
        text.refresh_from_db()
        thresholds.append(hide_threshold(text))

    assert thresholds == [3, 6, 12, 24]


def test_approving_a_public_text_with_reports_clears_them() -> None:
    text = GeneratedDescriptionFactory.create()
    moderator = User.objects.create_user("moderator")
    _report_from(range(1, 3), text, "198.51.100")

    changes = moderation.decide([text], moderation.DECISIONS["approve"], moderator)

    assert _state(text) == (Status.APPROVED, 0)
    assert hide_threshold(text) == 5
    assert [change.describe() for change in changes] == ["2 reports cleared"]


def test_the_review_queue_shows_who_reported_what_and_when(moderator_client: Client) -> None:
    text = GeneratedDescriptionFactory.create(title="An Invented Reported Title")
    _report_from(range(1, 4), text, "198.51.100")
    who = client_key("198.51.100.2")[:10]

    queue = moderator_client.get(f"{LIST}?queue=review").content.decode()
    page = moderator_client.get(f"{LIST}{text.pk}/change/").content.decode()
    reports = moderator_client.get(f"/admin/web/report/?description__id__exact={text.pk}")

    assert f"/admin/web/report/?description__id__exact={text.pk}" in queue
    assert who in page and "It is offensive" in page
    assert "198.51.100.2" not in page
    assert "hidden at 3 reports" in page
    assert reports.status_code == 200
    assert who in reports.content.decode()
