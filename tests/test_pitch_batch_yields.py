"""A pool batch makes room for a waiting pitch: the pitch is written mid-batch, the batch unchanged.

On a CPU one chunk of 96 tokens takes 10-15 s whatever its rows, so the batch pauses between
decoding steps (at most every PAUSE_EVERY_SECONDS), not only between chunks.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings

import generator.tasks
from generator.ml import sampling
from generator.ml.config import SamplingSettings
from generator.ml.format import prompt_prefix
from generator.ml.sampling import get_sampler
from generator.models import GenerationBatch, Pitch
from generator.pipeline import run_batch
from generator.pitches import make_room
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import PitchFactory, batch_sampling

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fresh_training_detector", "fixed_pitch_seed"),
]

SAMPLING = batch_sampling(seed=77)


def test_a_running_batch_writes_the_waiting_pitch_before_it_finishes(
    active_run: Any, pitch_genres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sampling, "PAUSE_EVERY_SECONDS", 0.0)
    pitch = PitchFactory.create(genre=pitch_genres["dramas"])
    batch = GenerationBatch.objects.create(
        model_run=active_run, requested=16, sampling={**SAMPLING, "chunk_size": 4}
    )

    done = run_batch(batch.pk)

    assert done is not None and done.status == GenerationBatch.Status.DONE
    pitch.refresh_from_db()
    assert pitch.status == Pitch.Status.DONE, pitch.error
    assert pitch.description is not None and pitch.description.pitched
    assert pitch.finished_at is not None and done.finished_at is not None
    assert pitch.finished_at < done.finished_at
    assert done.sampling["chunk_size"] == 4  # the pitch's own chunk does not overwrite it
    assert not done.descriptions.filter(pitched=True).exists()
    # The pitch's own Celery message, arriving after, finds it done and does nothing.
    assert generator.tasks.pitch(pitch.pk) == "skipped"
    assert Pitch.objects.get(pk=pitch.pk).description_id == pitch.description_id


def test_work_done_at_a_pause_leaves_the_batch_texts_as_they_were(
    active_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sampling, "PAUSE_EVERY_SECONDS", 0.0)
    sampler = get_sampler(active_run.checkpoint_path, django_settings.GENERATION_DTYPE)
    settings = SamplingSettings(**SAMPLING)
    paused: list[int] = []

    def other_work() -> None:
        # What a pitch does, at the first few pauses: sample with the same model, another seed.
        paused.append(len(paused))
        if len(paused) <= 4:
            sampler.generate(prompt_prefix("tv"), 2, SamplingSettings(seed=len(paused)))

    plain = sampler.generate(prompt_prefix("movie"), 12, settings, chunk_size=4)
    with_pauses = sampler.generate(
        prompt_prefix("movie"), 12, settings, chunk_size=4, pause=other_work
    )

    assert len(paused) > 4  # every step of three chunks, and between them
    assert with_pauses == plain
    assert sampler.last_chunk_size == 4


def test_without_waiting_pitches_the_pause_costs_one_query(
    active_run: Any, django_assert_max_num_queries: Any
) -> None:
    sampler = get_sampler(active_run.checkpoint_path, django_settings.GENERATION_DTYPE)
    with django_assert_max_num_queries(1):
        make_room(sampler)
