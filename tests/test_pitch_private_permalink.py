"""A pitched text is its author's alone until a moderator approves it, then everyone's."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

import generator.tasks  # noqa: F401 - registers the tasks, so queueing runs them eagerly
from config.celery import app as celery_app
from generator import moderation
from generator.models import Pitch
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fresh_training_detector", "fixed_pitch_seed", "no_top_up_nudge"),
]


@pytest.fixture
def pitched(
    active_run: Any,
    pitch_genres: Any,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> Pitch:
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/pitch/", {"title": "Harbour of Small Clocks", "kind": "tv", "genre": "tv-horror"}
        )
    pitch = Pitch.objects.select_related("description").get()
    assert pitch.description is not None, pitch.error
    return pitch


def test_only_the_author_sees_it_until_a_moderator_approves_it(
    pitched: Pitch, client: Client
) -> None:
    text = pitched.description
    assert text is not None
    stranger = Client()

    assert client.get(f"/pitch/{pitched.public_id}/").status_code == 200
    mine = client.get(f"/d/{text.pk}/")
    assert mine.status_code == 200
    assert "Pitched by a visitor" in mine.content.decode()
    assert mine["X-Robots-Tag"] == "noindex"
    assert stranger.get(f"/pitch/{pitched.public_id}/").status_code == 404
    assert stranger.get(f"/d/{text.pk}/").status_code == 404
    assert stranger.get(f"/api/descriptions/{text.pk}").status_code == 404

    moderator = User.objects.create_superuser("mod", "mod@example.org", "pw")
    moderation.decide([text], moderation.DECISIONS["approve"], moderator)

    for visitor in (client, stranger):
        page = visitor.get(f"/d/{text.pk}/")
        assert page.status_code == 200
        assert "Pitched by a visitor" in page.content.decode()
        assert visitor.get(f"/pitch/{pitched.public_id}/").status_code == 200


def test_its_author_gets_no_votes_reports_or_share_until_it_is_public(
    pitched: Pitch, client: Client
) -> None:
    text = pitched.description
    assert text is not None
    vote_url = f"/d/{text.pk}/vote/"

    for page in (client.get(f"/d/{text.pk}/"), client.get(f"/pitch/{pitched.public_id}/")):
        html = page.content.decode()
        assert text.title in html
        assert vote_url not in html
        assert "share-button" not in html

    moderator = User.objects.create_superuser("mod", "mod@example.org", "pw")
    moderation.decide([text], moderation.DECISIONS["approve"], moderator)

    html = client.get(f"/d/{text.pk}/").content.decode()
    assert vote_url in html
    assert "share-button" in html


def test_a_forged_or_foreign_author_cookie_opens_nothing(pitched: Pitch) -> None:
    text = pitched.description
    assert text is not None
    forged = Client()
    forged.cookies["tmdne_pitch_author"] = "not-signed"
    other_author = Client()
    other_author.post("/pitch/", {"title": "Another Title Entirely", "kind": "movie"})

    for visitor in (forged, other_author):
        assert visitor.get(f"/pitch/{pitched.public_id}/").status_code == 404
        assert visitor.get(f"/d/{text.pk}/").status_code == 404


def test_a_rejected_pitch_is_gone_for_its_author_too(pitched: Pitch, client: Client) -> None:
    text = pitched.description
    assert text is not None
    moderator = User.objects.create_superuser("mod", "mod@example.org", "pw")

    moderation.decide([text], moderation.DECISIONS["reject"], moderator)

    assert client.get(f"/d/{text.pk}/").status_code == 404


def test_an_unknown_pitch_id_is_a_404(client: Client) -> None:
    assert client.get("/pitch/no-such-pitch/").status_code == 404
