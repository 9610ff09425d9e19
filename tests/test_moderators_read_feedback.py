"""Moderators read visitors' reports and votes in the admin, and cannot change them."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from tests.factories import GeneratedDescriptionFactory
from web.models import Report, Vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator() -> Client:
    User.objects.create_user("moderator")
    call_command("setup_moderators", "moderator", stdout=StringIO())
    client = Client()
    client.force_login(User.objects.get(username="moderator"))
    return client


def test_a_moderator_opens_reports_and_votes(moderator: Client) -> None:
    text = GeneratedDescriptionFactory.create()
    report = Report.objects.create(description=text, client_key="a" * 32, reason="broken")
    vote = Vote.objects.create(description=text, client_key="b" * 32, value="up")

    index = moderator.get("/admin/").content.decode()

    assert "/admin/web/report/" in index and "/admin/web/vote/" in index
    assert moderator.get("/admin/web/report/").status_code == 200
    assert moderator.get("/admin/web/vote/").status_code == 200
    assert moderator.get(f"/admin/web/report/{report.pk}/change/").status_code == 200
    assert moderator.get(f"/admin/web/vote/{vote.pk}/change/").status_code == 200


def test_a_moderator_cannot_add_change_or_delete_feedback(moderator: Client) -> None:
    text = GeneratedDescriptionFactory.create()
    report = Report.objects.create(description=text, client_key="a" * 32, reason="broken")

    assert moderator.get("/admin/web/report/add/").status_code == 403
    assert (
        moderator.post(f"/admin/web/report/{report.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert Report.objects.filter(pk=report.pk).exists()
