"""Moderators review texts and nothing else; plain staff and anonymous visitors cannot moderate."""

from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.core.management import CommandError, call_command
from django.test import Client

from generator.management.commands.setup_moderators import GROUP, PERMISSIONS
from generator.models import GeneratedDescription
from tests.corpus import ORIGINALS
from tests.factories import GeneratedDescriptionFactory

pytestmark = pytest.mark.django_db
Status = GeneratedDescription.Status
LIST = "/admin/generator/generateddescription/"


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def moderator() -> User:
    user = User.objects.create_user("moderator", password="not-used-here-0")
    call_command("setup_moderators", "moderator", stdout=StringIO())
    user.refresh_from_db()
    return user


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("staff", password="not-used-here-0", is_staff=True)


@pytest.fixture
def pending() -> GeneratedDescription:
    return GeneratedDescriptionFactory.create(text=ORIGINALS[0], status=Status.PENDING)


def _approve(client: Client, description: GeneratedDescription) -> int:
    response = client.post(
        f"{LIST}?queue=review",
        {"action": "approve_selected", "_selected_action": [description.pk], "index": 0},
    )
    return response.status_code


def test_the_group_has_exactly_the_review_permissions(moderator: User) -> None:
    group = Group.objects.get(name=GROUP)
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}

    assert granted == set(PERMISSIONS)
    assert not {name for name in granted if name.split(".")[0] in ("auth", "admin", "sessions")}
    assert not any(name.split(".")[1].startswith(("add_", "delete_")) for name in granted)
    assert moderator.is_staff and not moderator.is_superuser
    assert moderator.get_all_permissions() == set(PERMISSIONS)


def test_setup_is_idempotent_and_removes_extra_permissions(moderator: User) -> None:
    group = Group.objects.get(name=GROUP)
    group.permissions.add(*Permission.objects.filter(codename="add_user"))

    out = StringIO()
    call_command("setup_moderators", stdout=out)

    assert "Updated the 'moderators' group" in out.getvalue()
    assert group.permissions.count() == len(PERMISSIONS)
    assert Group.objects.filter(name=GROUP).count() == 1


def test_setup_names_unknown_users_and_changes_nothing() -> None:
    User.objects.create_user("known")

    with pytest.raises(CommandError, match="no such user: ghost"):
        call_command("setup_moderators", "known", "ghost", stdout=StringIO())

    assert not Group.objects.filter(name=GROUP).exists()
    assert not User.objects.get(username="known").is_staff


def test_a_moderator_can_review_and_approve(moderator: User, pending: GeneratedDescription) -> None:
    client = _client(moderator)

    assert client.get(f"{LIST}?queue=review").status_code == 200
    assert client.get(f"{LIST}{pending.pk}/change/").status_code == 200
    assert _approve(client, pending) == 302

    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert pending.moderated_by == moderator


def test_a_moderator_cannot_manage_users_groups_or_delete_texts(
    moderator: User, pending: GeneratedDescription
) -> None:
    client = _client(moderator)

    assert client.get("/admin/auth/user/").status_code == 403
    assert client.get("/admin/auth/group/").status_code == 403
    assert client.get(f"/admin/auth/user/{moderator.pk}/change/").status_code == 403
    assert client.post(f"{LIST}{pending.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{LIST}add/").status_code == 403
    assert GeneratedDescription.objects.filter(pk=pending.pk).exists()


def test_plain_staff_cannot_see_or_moderate(staff: User, pending: GeneratedDescription) -> None:
    client = _client(staff)

    assert client.get(f"{LIST}?queue=review").status_code == 403
    assert _approve(client, pending) == 403
    decide = client.post(f"{LIST}?queue=review", {"decide": f"approve:{pending.pk}"})
    moderate = client.post(f"{LIST}{pending.pk}/moderate/", {"decision": "approve"})

    assert decide.status_code == 403
    assert moderate.status_code == 403
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert not LogEntry.objects.exists()


def test_anonymous_visitors_are_sent_to_the_login_page(pending: GeneratedDescription) -> None:
    client = _client(None)

    listing = client.get(f"{LIST}?queue=review")
    action = client.post(f"{LIST}{pending.pk}/moderate/", {"decision": "approve"})
    decide = client.post(f"{LIST}?queue=review", {"decide": f"approve:{pending.pk}"})

    for response in (listing, action, decide):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    pending.refresh_from_db()
    assert pending.status == Status.PENDING


def test_view_only_staff_see_the_queue_without_decisions(
    staff: User, pending: GeneratedDescription
) -> None:
    staff.user_permissions.add(Permission.objects.get(codename="view_generateddescription"))
    client = _client(staff)

    page = client.get(f"{LIST}?queue=review")
    approve = _approve(client, pending)
    decide = client.post(f"{LIST}?queue=review", {"decide": f"approve:{pending.pk}"})

    assert page.status_code == 200
    assert b'name="decide"' not in page.content
    assert b"approve_selected" not in page.content
    assert approve in (200, 302)  # Django answers an unavailable action with the list again
    assert decide.status_code == 403
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
