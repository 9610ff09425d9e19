"""A pitched text enters the unseen walk only once approved, and is labelled wherever it shows."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from generator import moderation
from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, PitchFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]

LABEL = "Pitched by a visitor"


def _pitched_text(status: str) -> GeneratedDescription:
    text = GeneratedDescriptionFactory.create(
        title="The Pitched Lantern", pitched=True, status=status
    )
    PitchFactory.create(title=text.title, status="done", description=text)
    return text


def _walk(client: Client, steps: int) -> set[int]:
    seen = set()
    for _ in range(steps):
        html = client.get("/").content.decode()
        marker = 'data-description-id="'
        if marker in html:
            seen.add(int(html.split(marker, 1)[1].split('"', 1)[0]))
    return seen


def test_a_pending_pitch_is_never_served_and_an_approved_one_is() -> None:
    pool = [GeneratedDescriptionFactory.create() for _ in range(3)]
    pitched = _pitched_text(GeneratedDescription.Status.PENDING)
    client = Client()

    assert _walk(client, 8) == {text.pk for text in pool}  # two laps: never the pitch

    moderator = User.objects.create_superuser("mod", "mod@example.org", "pw")
    moderation.decide([pitched], moderation.DECISIONS["approve"], moderator)
    assert pitched.pk in _walk(Client(), 8)


def test_an_approved_pitch_is_labelled_on_every_page_the_feed_and_the_api() -> None:
    text = _pitched_text(GeneratedDescription.Status.APPROVED)
    plain = GeneratedDescriptionFactory.create(title="The Model's Own")
    client = Client()

    permalink = client.get(f"/d/{text.pk}/").content.decode()
    assert LABEL in permalink
    assert LABEL not in client.get(f"/d/{plain.pk}/").content.decode()
    for page in ("/fresh/", "/best/"):
        html = client.get(page).content.decode()
        assert html.count(LABEL) == 1, page  # the pitch, not the model's own
    feed = client.get("/feed/").content.decode()
    assert "The Pitched Lantern (pitched by a visitor)" in feed
    assert f'term="{LABEL}"' in feed
    assert "The Model&#x27;s Own (pitched" not in feed
    api = json.loads(client.get(f"/api/descriptions/{text.pk}").content)
    assert api["pitched"] is True
    assert json.loads(client.get(f"/api/descriptions/{plain.pk}").content)["pitched"] is False


def test_the_share_card_of_a_pitch_has_its_own_version() -> None:
    from web.share import CardFacts

    text = _pitched_text(GeneratedDescription.Status.APPROVED)
    facts = CardFacts.of(text, [])

    assert facts.pitched
    assert (
        facts.version
        != CardFacts.of(
            GeneratedDescription(pk=text.pk, title=text.title, kind=text.kind, text=text.text), []
        ).version
    )


def test_the_admin_lists_pitched_texts_with_a_filter(admin_client: Client) -> None:
    _pitched_text(GeneratedDescription.Status.PENDING)
    GeneratedDescriptionFactory.create(title="The Model's Own", status="pending")

    html = admin_client.get(
        "/admin/generator/generateddescription/?pitched__exact=1&queue=all"
    ).content.decode()

    assert "The Pitched Lantern" in html and LABEL in html
    assert "The Model&#x27;s Own" not in html
    pitches = admin_client.get("/admin/generator/pitch/").content.decode()
    assert "The Pitched Lantern" in pitches
