"""Pitches are rate-limited per client address in the shared cache, whatever the cookies."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from generator.models import Pitch

pytestmark = pytest.mark.django_db


def test_past_the_limit_a_client_gets_429_and_nothing_is_queued(
    pitch_genres: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PITCH_RATE_LIMIT = 3
    answers = []
    with django_capture_on_commit_callbacks() as queued:
        for number in range(5):
            # A fresh client each time: dropping cookies does not reset the count.
            response = Client(REMOTE_ADDR="203.0.113.9").post(
                "/pitch/", {"title": f"Invented Title Number {number}", "kind": "movie"}
            )
            answers.append(response.status_code)

    assert answers == [303, 303, 303, 429, 429]
    assert Pitch.objects.count() == 3 and len(queued) == 3
    refused = Client(REMOTE_ADDR="203.0.113.9").post(
        "/pitch/", {"title": "One More", "kind": "movie"}
    )
    assert "That is 3 pitches this hour from here" in refused.content.decode()
    assert 'value="One More"' in refused.content.decode()  # what was typed is kept
    other = Client(REMOTE_ADDR="198.51.100.4").post("/pitch/", {"title": "Mine", "kind": "tv"})
    assert other.status_code == 303


def test_viewing_the_form_does_not_count(pitch_genres: Any, settings: Any) -> None:
    settings.PITCH_RATE_LIMIT = 1
    client = Client(REMOTE_ADDR="203.0.113.10")
    for _ in range(3):
        assert client.get("/pitch/").status_code == 200

    assert client.post("/pitch/", {"title": "Only One", "kind": "movie"}).status_code == 303
