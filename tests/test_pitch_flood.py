"""A pitch flood cannot starve pool top-ups: a site-wide cap on queued pitches, pitches that
expire, a time budget per pause point, time limits that go on up, a sweep for lost pitches,
a broker outage that loses no pitch, and a pitch limit that fails closed."""

from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.test import Client
from django.utils import timezone

from generator import pitches, queueing
from generator.models import PITCH_EXPIRED, Pitch
from generator.tasks import sweep_pitches

pytestmark = pytest.mark.django_db


def _pitch(address: str, title: str) -> Any:
    return Client(REMOTE_ADDR=address).post("/pitch/", {"title": title, "kind": "movie"})


def _queued(age: timedelta, **fields: Any) -> Pitch:
    pitch = Pitch.objects.create(title="An Invented Title", kind="movie", author_key="k", **fields)
    Pitch.objects.filter(pk=pitch.pk).update(created_at=timezone.now() - age)
    return pitch


def test_past_the_site_wide_cap_the_form_says_busy_and_queues_nothing(
    pitch_genres: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PITCH_QUEUE_LIMIT = 3
    with django_capture_on_commit_callbacks() as queued:
        answers = [_pitch(f"127.0.0.{n}", f"Invented Title {n}") for n in range(2, 7)]

    assert [answer.status_code for answer in answers] == [303, 303, 303, 503, 503]
    assert answers[-1]["Retry-After"] == "60"
    assert "Our writers are busy with other pitches right now" in answers[-1].content.decode()
    assert 'value="Invented Title 6"' in answers[-1].content.decode()  # what was typed is kept
    assert Pitch.objects.count() == 3 and len(queued) == 3


def test_pitches_past_the_timeout_are_not_written_and_the_sweep_fails_them(
    settings: Any,
) -> None:
    settings.PITCH_TIMEOUT = 60
    old = _queued(timedelta(seconds=90))
    fresh = _queued(timedelta(seconds=5))

    assert Pitch.objects.waiting() == [fresh.pk]
    assert not Pitch.objects.claim(old.pk)
    assert Pitch.objects.backlog() == 1

    assert sweep_pitches.apply().get() == 1
    old.refresh_from_db()
    assert (old.status, old.error) == (Pitch.Status.FAILED, PITCH_EXPIRED)
    fresh.refresh_from_db()
    assert fresh.status == Pitch.Status.QUEUED


def test_the_sweep_queues_again_the_pitches_no_worker_holds(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PITCH_TIMEOUT = 600
    lost_message = _queued(timedelta(minutes=2))
    lost_worker = _queued(
        timedelta(minutes=5), status=Pitch.Status.RUNNING, started_at=timezone.now()
    )
    Pitch.objects.filter(pk=lost_worker.pk).update(started_at=timezone.now() - timedelta(minutes=4))
    _queued(timedelta(seconds=10))  # just queued: its message is on its way
    sent: list[int] = []
    monkeypatch.setattr("generator.tasks.pitch.delay", sent.append)

    sweep_pitches.apply().get()

    assert sorted(sent) == sorted([lost_message.pk, lost_worker.pk])


def test_a_pause_point_gives_pitches_only_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    queued = [_queued(timedelta(seconds=1)) for _ in range(5)]
    clock = [0.0]
    ran: list[int] = []

    def write(pitch_id: int, sampler: Any = None) -> Pitch:
        clock[0] += 6.0  # each pitch takes six seconds
        ran.append(pitch_id)
        return Pitch.objects.get(pk=pitch_id)

    monkeypatch.setattr(pitches.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(pitches, "run_pitch", write)

    assert pitches.run_waiting(sampler=None, budget=10.0) == [queued[0].pk, queued[1].pk]  # type: ignore[arg-type]


def test_a_time_limit_fails_the_pitch_and_goes_on_up(monkeypatch: pytest.MonkeyPatch) -> None:
    pitch = _queued(timedelta(seconds=1))

    def out_of_time(*args: Any) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pitches, "_write", out_of_time)

    with pytest.raises(SoftTimeLimitExceeded):
        pitches.run_pitch(pitch.pk)
    pitch.refresh_from_db()
    assert pitch.status == Pitch.Status.FAILED
    _queued(timedelta(seconds=1))
    with pytest.raises(SoftTimeLimitExceeded):
        pitches.make_room(sampler=None)  # type: ignore[arg-type]


def test_with_the_broker_down_a_pitch_fails_with_a_message_not_a_server_error(
    pitch_genres: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    class Down:
        def apply_async(self, **options: Any) -> None:
            raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(queueing.current_app, "signature", lambda *a, **k: Down())
    visitor = Client(REMOTE_ADDR="127.0.0.20")

    with django_capture_on_commit_callbacks(execute=True):
        answer = visitor.post("/pitch/", {"title": "Invented While Down", "kind": "movie"})

    assert answer.status_code == 303 and "tmdne_pitch_author" in answer.cookies
    pitch = Pitch.objects.get()
    assert (pitch.status, pitch.error) == (Pitch.Status.FAILED, queueing.PITCH_UNSENT)
    assert queueing.PITCH_UNSENT in visitor.get(answer["Location"]).content.decode()


def test_the_pitch_limit_fails_closed_without_its_cache(
    pitch_genres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        return None  # what django-redis answers while Redis is down (IGNORE_EXCEPTIONS)

    monkeypatch.setattr("web.pitch.cache.add", down)

    answer = _pitch("127.0.0.21", "Invented Without Redis")

    assert answer.status_code == 503
    assert "Our writers are busy" in answer.content.decode()
    assert not Pitch.objects.exists()
