"""Moderation decisions change status, stamp who decided, and are logged (who, when, what)."""

from io import StringIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from generator.models import GeneratedDescription
from tests.corpus import (
    ORIGINALS,
    fresh_training_detector,  # noqa: F401 - the fixture, used by pytestmark
    load_training_titles,
    text_of,
)
from tests.factories import GeneratedDescriptionFactory
from titles.models import TrainingTitle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]
Status = GeneratedDescription.Status
LIST = "/admin/generator/generateddescription/"


@pytest.fixture
def moderator() -> User:
    User.objects.create_user("moderator")
    call_command("setup_moderators", "moderator", stdout=StringIO())
    return User.objects.get(username="moderator")


@pytest.fixture
def client(moderator: User) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


def _act(client: Client, action: str, *descriptions: GeneratedDescription) -> None:
    response = client.post(
        f"{LIST}?queue=all",
        {"action": action, "_selected_action": [d.pk for d in descriptions], "index": 0},
    )
    assert response.status_code == 302, response.content[:500]


def _reload(*descriptions: GeneratedDescription) -> list[GeneratedDescription]:
    return [GeneratedDescription.objects.get(pk=d.pk) for d in descriptions]


def _text_id(entry: LogEntry) -> int:
    """The id of the text a log entry is about (LogEntry.object_id is a nullable text field)."""
    assert entry.object_id is not None
    return int(entry.object_id)


@pytest.mark.parametrize(
    ("action", "status", "featured"),
    [
        ("approve_selected", Status.APPROVED, False),
        ("reject_selected", Status.REJECTED, False),
        ("hold_selected", Status.OVERFIT, False),
        ("feature_selected", Status.APPROVED, True),
    ],
)
def test_bulk_actions_change_status_and_log_each_text(
    client: Client, moderator: User, action: str, status: str, featured: bool
) -> None:
    texts = [
        GeneratedDescriptionFactory.create(text=ORIGINALS[n], status=Status.PENDING)
        for n in range(3)
    ]
    before = timezone.now()

    _act(client, action, *texts)

    for text in _reload(*texts):
        assert text.status == status
        assert text.featured is featured
        assert text.moderated_by == moderator
        assert text.moderated_at is not None and text.moderated_at >= before
    entries = LogEntry.objects.filter(user=moderator, action_flag=CHANGE)
    assert sorted(_text_id(e) for e in entries) == sorted(t.pk for t in texts)
    entry = entries.first()
    assert entry is not None and entry.action_time >= before
    assert f"status Pending review → {Status(status).label}" in entry.get_change_message()


def test_rejecting_or_holding_stops_featuring(client: Client) -> None:
    featured = GeneratedDescriptionFactory.create(text=ORIGINALS[0], featured=True)
    also_featured = GeneratedDescriptionFactory.create(text=ORIGINALS[1], featured=True)

    _act(client, "reject_selected", featured)
    _act(client, "hold_selected", also_featured)

    assert [t.featured for t in _reload(featured, also_featured)] == [False, False]


def test_unfeature_keeps_the_status(client: Client) -> None:
    text = GeneratedDescriptionFactory.create(text=ORIGINALS[0], featured=True)

    _act(client, "unfeature_selected", text)

    (text,) = _reload(text)
    assert (text.status, text.featured) == (Status.APPROVED, False)
    assert LogEntry.objects.get().get_change_message() == "Stop featuring: no longer featured"


def test_texts_already_in_that_state_are_not_logged_again(client: Client) -> None:
    approved = GeneratedDescriptionFactory.create(text=ORIGINALS[0], status=Status.APPROVED)
    pending = GeneratedDescriptionFactory.create(text=ORIGINALS[1], status=Status.PENDING)

    _act(client, "approve_selected", approved, pending)

    assert [_text_id(e) for e in LogEntry.objects.all()] == [pending.pk]
    (approved,) = _reload(approved)
    assert approved.moderated_by is None


def test_recheck_holds_new_copies_and_releases_old_holds(client: Client) -> None:
    load_training_titles()
    copy = GeneratedDescriptionFactory.create(text=text_of("f13"), status=Status.APPROVED)
    wrongly_held = GeneratedDescriptionFactory.create(text=ORIGINALS[4], status=Status.OVERFIT)

    _act(client, "recheck_selected", copy, wrongly_held)

    copy, wrongly_held = _reload(copy, wrongly_held)
    assert copy.status == Status.OVERFIT
    assert copy.nearest_show_id == "f13" and copy.overfit_score == 1.0
    assert wrongly_held.status == Status.APPROVED
    assert (copy.moderated_by, wrongly_held.moderated_by) == (None, None)  # the machine decided
    messages = {_text_id(e): e.get_change_message() for e in LogEntry.objects.all()}
    assert messages[copy.pk].startswith("Re-checked: score 1.00 (exact); status Approved →")
    assert messages[wrongly_held.pk].endswith("status Held: overfit → Approved")


def test_recheck_keeps_a_moderators_decision_and_refreshes_its_evidence(
    client: Client, moderator: User
) -> None:
    load_training_titles()
    approved_copy = GeneratedDescriptionFactory.create(
        text=text_of("f13"),
        status=Status.APPROVED,
        moderated_by=moderator,
        moderated_at=timezone.now(),
    )

    response = client.post(
        f"{LIST}?queue=all",
        {"action": "recheck_selected", "_selected_action": [approved_copy.pk], "index": 0},
        follow=True,
    )

    (approved_copy,) = _reload(approved_copy)
    assert approved_copy.status == Status.APPROVED
    assert approved_copy.moderated_by == moderator
    assert approved_copy.overfit_score == 1.0 and approved_copy.nearest_show_id == "f13"
    assert LogEntry.objects.get().get_change_message() == (
        "Re-checked: score 1.00 (exact); status Approved kept: a moderator decided it"
    )
    assert "0 changed status; 1 kept the status a moderator gave them" in response.content.decode()


def test_recheck_uses_the_current_training_set(client: Client) -> None:
    load_training_titles()
    text = GeneratedDescriptionFactory.create(
        text=text_of("f20"), status=Status.OVERFIT, nearest_show_id="f20"
    )
    TrainingTitle.objects.filter(show_id="f20").delete()

    _act(client, "recheck_selected", text)

    (text,) = _reload(text)
    assert text.status == Status.APPROVED
    assert text.nearest_show_id != "f20"


def test_the_row_buttons_decide_one_text_and_keep_the_filters(client: Client) -> None:
    text = GeneratedDescriptionFactory.create(text=ORIGINALS[0], status=Status.PENDING)
    other = GeneratedDescriptionFactory.create(text=ORIGINALS[1], status=Status.PENDING)

    response = client.post(
        f"{LIST}?queue=review&kind__exact=movie", {"decide": f"reject:{text.pk}"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?queue=review&kind__exact=movie"
    text, other = _reload(text, other)
    assert (text.status, other.status) == (Status.REJECTED, Status.PENDING)
    assert LogEntry.objects.get().get_change_message() == (
        "Reject: status Pending review → Rejected"
    )


def test_a_decision_on_a_text_page_moves_on_to_the_next_in_the_queue(client: Client) -> None:
    older = GeneratedDescriptionFactory.create(text=ORIGINALS[0], status=Status.PENDING)
    newer = GeneratedDescriptionFactory.create(text=ORIGINALS[1], status=Status.OVERFIT)
    GeneratedDescriptionFactory.create(text=ORIGINALS[2], status=Status.APPROVED)

    first = client.post(f"{LIST}{newer.pk}/moderate/", {"decision": "approve"})
    second = client.post(f"{LIST}{older.pk}/moderate/", {"decision": "hold"})

    assert first["Location"] == f"{LIST}{older.pk}/change/"
    assert second["Location"] == f"{LIST}?queue=review"  # nothing left to review
    newer, older = _reload(newer, older)
    assert (newer.status, older.status) == (Status.APPROVED, Status.OVERFIT)
    assert LogEntry.objects.count() == 2


def test_a_text_page_can_recheck_and_feature(client: Client) -> None:
    load_training_titles()
    text = GeneratedDescriptionFactory.create(text=ORIGINALS[3], status=Status.PENDING)

    recheck = client.post(f"{LIST}{text.pk}/moderate/", {"decision": "recheck"})
    feature = client.post(f"{LIST}{text.pk}/moderate/", {"decision": "feature"})
    unknown = client.post(f"{LIST}{text.pk}/moderate/", {"decision": "delete"})

    assert recheck["Location"] == f"{LIST}{text.pk}/change/"
    assert feature.status_code == 302
    assert unknown["Location"] == f"{LIST}{text.pk}/change/"
    (text,) = _reload(text)
    assert text.checked_at is not None
    assert (text.status, text.featured) == (Status.APPROVED, True)


def test_the_moderation_url_only_takes_posts(client: Client) -> None:
    text = GeneratedDescriptionFactory.create(text=ORIGINALS[0], status=Status.PENDING)

    assert client.get(f"{LIST}{text.pk}/moderate/").status_code == 405
    assert client.post(f"{LIST}999999/moderate/", {"decision": "approve"}).status_code == 404
