"""A page served from another thread reads what is committed while a worker's write is open.

The web server and the workers hold their own connections. On SQLite that needs a database
file in WAL mode (production's, and the tests' too): a shared in-memory database made such a
read fail with "database table is locked" (a pitch page polled while its text was written).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import Client

from generator.models import Pitch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_top_up_nudge")]

HTMX = {"HX-Request": "true"}


def _poll_from_another_thread(client: Client, url: str) -> tuple[int, str]:
    """The author's htmx poll, answered on a thread with its own connection, as a server's."""
    answer: dict[str, Any] = {}

    def poll() -> None:
        try:
            response = client.get(url, headers=HTMX)
            answer.update(status=response.status_code, body=response.content.decode())
        finally:
            connections.close_all()

    thread = threading.Thread(target=poll)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the poll waited on the worker's transaction"
    return answer["status"], answer["body"]


def test_the_authors_poll_answers_while_the_worker_writes_the_pitch(
    pitch_genres: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("generator.queueing.pitch_on_commit", lambda pitch_id: None)
    client.post("/pitch/", {"title": "Harbour of Small Clocks", "kind": "tv", "genre": "tv-horror"})
    pitch = Pitch.objects.get()
    url = f"/pitch/{pitch.public_id}/"

    with transaction.atomic():
        Pitch.objects.filter(pk=pitch.pk).update(status=Pitch.Status.RUNNING)
        status, body = _poll_from_another_thread(client, url)
        assert status == 200
        assert "Waiting for the writer" in body  # the committed state, not the open write

    status, body = _poll_from_another_thread(client, url)
    assert status == 200
    assert "The model is writing your description" in body
