"""A visitor pitches a title: the task writes it on the tiny model and the card appears in place.

The Celery task runs eagerly here (task_always_eager, on-commit callbacks executed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

import generator.tasks  # noqa: F401 - registers the tasks, so queueing runs them eagerly
from config.celery import app as celery_app
from generator import pitches
from generator.models import GeneratedDescription, Pitch
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import ModelRunFactory, PitchFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fresh_training_detector", "fixed_pitch_seed"),
]

TITLE = "The Umbrella Cartographer"


@pytest.fixture(autouse=True)
def _eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def _pitch(client: Client, capture: Any, **fields: str) -> Pitch:
    data = {"title": TITLE, "kind": "movie", "genre": "dramas", **fields}
    with capture(execute=True):
        response = client.post("/pitch/", data)
    assert response.status_code == 303, response.content.decode()[:2000]
    pitch = Pitch.objects.get()
    assert response["Location"] == f"/pitch/{pitch.public_id}/"
    return pitch


def test_a_pitched_title_is_written_and_its_card_appears_in_place(
    active_run: Any, pitch_genres: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    pitch = _pitch(client, django_capture_on_commit_callbacks)

    pitch.refresh_from_db()
    assert pitch.status == Pitch.Status.DONE, pitch.error
    text = pitch.description
    assert text is not None
    assert text.pitched
    assert text.title == TITLE
    assert text.status == GeneratedDescription.Status.PENDING  # PITCH_PUBLISH="review"
    assert list(text.genres.values_list("name", flat=True)) == ["Dramas"]
    assert text.model_run == active_run
    assert text.seed == pitch.seed
    page = client.get(f"/pitch/{pitch.public_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pitched by a visitor" in html
    assert text.text.replace("'", "&#x27;") in html
    assert f'href="/d/{text.pk}/"' in html
    assert 'hx-trigger="every' not in html  # done: the polling stops
    partial = client.get(f"/pitch/{pitch.public_id}/", headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode()
    assert f'data-description-id="{text.pk}"' in partial.content.decode()


def test_the_page_polls_while_queued_and_gives_up_after_the_timeout(
    pitch_genres: Any, client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # queued, never run
        client.post("/pitch/", {"title": TITLE, "kind": "tv", "genre": ""})
    pitch = Pitch.objects.get()

    html = client.get(f"/pitch/{pitch.public_id}/").content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert "Waiting for the writer" in html
    assert '<meta http-equiv="refresh"' in html  # inside <noscript>: the page without JavaScript

    Pitch.objects.filter(pk=pitch.pk).update(
        created_at=pitch.created_at - timedelta(seconds=settings.PITCH_TIMEOUT + 1)
    )
    html = client.get(f"/pitch/{pitch.public_id}/").content.decode()
    assert "taking longer than it should" in html
    assert 'hx-trigger="every' not in html
    assert "http-equiv" not in html


def test_a_pitch_no_candidate_survives_fails_with_a_message_for_the_visitor(
    active_run: Any,
    pitch_genres: Any,
    client: Client,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.GENERATION_MAX_NEW_TOKENS = 2  # no candidate reaches the end marker

    pitch = _pitch(client, django_capture_on_commit_callbacks)

    pitch.refresh_from_db()
    assert pitch.status == Pitch.Status.FAILED
    assert pitch.error == pitches.NOTHING_GOOD
    assert not GeneratedDescription.objects.exists()
    html = client.get(f"/pitch/{pitch.public_id}/").content.decode()
    assert "The model could not write one for this title; try another." in html
    assert TITLE in html


def test_without_an_active_model_the_pitch_fails_saying_so(pitch_genres: Any) -> None:
    ModelRunFactory.create(is_active=False)
    pitch = PitchFactory.create()

    done = pitches.run_pitch(pitch.pk)

    assert done is not None and done.status == Pitch.Status.FAILED
    assert done.error == pitches.NO_MODEL


def test_a_candidate_with_a_blocklisted_word_is_never_kept(
    active_run: Any, pitch_genres: Any, tmp_path: Any, settings: Any
) -> None:
    settings.PITCH_CANDIDATES = 1
    # A seed whose one candidate the tiny model writes well enough to keep.
    written = pitches.run_pitch(PitchFactory.create(genre=pitch_genres["dramas"], seed=2).pk)
    assert written is not None and written.description is not None, written and written.error
    word = max(written.description.text.split(), key=len).strip(".,;:!?")
    written.description.delete()  # the same pitch again would write the very same text
    words = tmp_path / "extra.txt"
    words.write_text(f"{word}\n", encoding="utf-8")
    settings.PITCH_BLOCKLIST_FILE = str(words)

    again = pitches.run_pitch(
        PitchFactory.create(title=written.title, genre=pitch_genres["dramas"], seed=2).pk
    )

    assert again is not None and again.status == Pitch.Status.FAILED
    assert again.error == pitches.NOTHING_GOOD
    assert not GeneratedDescription.objects.exists()


def test_running_a_pitch_twice_writes_it_once(active_run: Any, pitch_genres: Any) -> None:
    pitch = PitchFactory.create(genre=pitch_genres["comedies"])

    first = generator.tasks.pitch(pitch.pk)
    second = generator.tasks.pitch(pitch.pk)

    assert first == Pitch.Status.DONE
    assert second == "skipped"
    assert GeneratedDescription.objects.filter(pitched=True).count() == 1


def test_a_lost_pitch_is_claimed_again_but_a_running_one_is_not(pitch_genres: Any) -> None:
    pitch = PitchFactory.create()
    assert Pitch.objects.claim(pitch.pk)
    assert not Pitch.objects.claim(pitch.pk)

    Pitch.objects.filter(pk=pitch.pk).update(started_at=pitch.created_at - timedelta(minutes=10))
    assert Pitch.objects.claim(pitch.pk)


def test_publish_immediately_makes_the_text_public_at_once(
    active_run: Any, pitch_genres: Any, settings: Any
) -> None:
    settings.PITCH_PUBLISH = "immediately"
    pitch = PitchFactory.create(genre=pitch_genres["dramas"])

    done = pitches.run_pitch(pitch.pk)

    assert done is not None and done.description is not None, done and done.error
    assert done.description.status == GeneratedDescription.Status.APPROVED
    assert done.description.pitched
