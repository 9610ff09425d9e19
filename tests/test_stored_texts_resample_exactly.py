"""Every text stores all of its sampling: a pitched or batch text is re-sampled from the row alone,
even after the site's sampling settings change."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from generator import pitches
from generator.ml.format import Sample, parse_record, pitch_prompt, prompt_prefix
from generator.ml.sampling import get_sampler
from generator.models import GeneratedDescription, GenerationBatch
from generator.overfit_check import get_detector
from generator.pipeline import run_batch
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import PitchFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]


def _resampled_batch(text: GeneratedDescription, prompt: str) -> list[Sample]:
    """Every row of the text's batch, its stored settings sampling its prompt again."""
    assert text.chunk_size is not None and text.model_run is not None
    return get_sampler(text.model_run.checkpoint_path, text.sampler_dtype).generate(
        prompt,
        text.chunk_size,
        text.sampling_settings(),
        chunk_size=text.chunk_size,
        is_real_title=get_detector().has_title,
    )


def _resampled(text: GeneratedDescription, prompt: str) -> str:
    """The description at the text's row when its stored settings sample its prompt again."""
    assert text.batch_row is not None
    return parse_record(_resampled_batch(text, prompt)[text.batch_row].text).description


def test_a_pitched_text_is_resampled_from_what_is_stored(
    active_run: Any, pitch_genres: dict[str, Any], settings: Any
) -> None:
    settings.PITCH_CANDIDATES = 16
    settings.GENERATION_MIN_P = 0.02
    pitch = PitchFactory.create(
        title="The Umbrella Cartographer", kind="movie", genre=pitch_genres["dramas"], seed=5
    )

    written = pitches.run_pitch(pitch.pk)

    assert written is not None and written.description is not None, written and written.error
    text = written.description
    assert text.min_p == 0.02 and text.chunk_size == 16 and text.sampler_dtype == "float32"
    assert text.max_new_tokens == settings.GENERATION_MAX_NEW_TOKENS
    # The site's settings move on; the stored row still says how the text was written.
    with override_settings(GENERATION_MIN_P=0.3, PITCH_CANDIDATES=2):
        prompt = pitch_prompt(pitch.kind, ["Dramas"], pitch.title)
        assert _resampled(text, prompt) == text.text


def test_a_pitch_that_stopped_at_its_quorum_is_resampled_from_what_is_stored(
    active_run: Any, pitch_genres: dict[str, Any], settings: Any
) -> None:
    settings.PITCH_CANDIDATES = 8
    settings.PITCH_QUORUM = 1
    pitch = PitchFactory.create(
        title="The Umbrella Cartographer", kind="movie", genre=pitch_genres["dramas"], seed=3
    )
    steps: list[int] = []
    model = get_sampler(active_run.checkpoint_path, settings.GENERATION_DTYPE).model
    hook = model.register_forward_pre_hook(lambda *_: steps.append(1))
    try:
        written = pitches.run_pitch(pitch.pk)
    finally:
        hook.remove()

    assert written is not None and written.description is not None, written and written.error
    text = written.description
    assert text.chunk_size == 8 and text.batch_row is not None
    batch = _resampled_batch(text, pitch_prompt(pitch.kind, ["Dramas"], pitch.title))
    assert parse_record(batch[text.batch_row].text).description == text.text
    # The prompt, then a step per token of the first text to pass: none after its end marker.
    assert len(steps) == 1 + batch[text.batch_row].new_tokens
    assert len(steps) < 1 + max(sample.new_tokens for sample in batch)


def test_a_batch_text_is_resampled_from_what_is_stored(
    active_run: Any, tiny_model_genres: None, settings: Any
) -> None:
    settings.GENERATION_MIN_P = 0.02
    batch = GenerationBatch.objects.create(
        model_run=active_run,
        kind="tv",
        requested=6,
        sampling={
            "temperature": 0.9,
            "top_p": 0.95,
            "top_k": 50,
            "repetition_penalty": 1.1,
            "min_p": 0.02,
            "max_new_tokens": 96,
            "seed": 21,
            "avoid_real_titles": True,
        },
    )

    run_batch(batch.pk)

    texts = list(GeneratedDescription.objects.filter(batch=batch))
    assert texts
    for text in texts:
        assert text.sampling_settings().min_p == 0.02
        assert _resampled(text, prompt_prefix("tv")) == text.text


def test_a_text_stored_before_every_setting_was_recorded_says_what_is_missing(
    active_run: Any,
) -> None:
    text = GeneratedDescription.objects.create(
        title="Old", kind="movie", text="A text stored before min-p was recorded.", seed=3
    )

    with pytest.raises(ValueError, match="stored without"):
        text.sampling_settings()
