"""A pitch stops sampling once enough of its candidates have finished and passed: the texts it
picks from are those of the whole batch that finished first, token for token, so what it stores
is still re-sampled from its row alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from generator import pitches
from generator.ml.config import SamplingSettings
from generator.ml.format import Sample, parse_record, pitch_prompt, prompt_prefix
from generator.ml.sampling import Sampler, get_sampler
from generator.overfit_check import get_detector
from generator.writing import FluencyCritic, Policy, write
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import PitchFactory

SETTINGS = SamplingSettings(temperature=1.0, min_p=0.02, max_new_tokens=96, seed=8)


@pytest.fixture(scope="module")
def sampler(trained_checkpoint: Path) -> Sampler:
    return Sampler(trained_checkpoint, device="cpu")


def test_a_batch_stops_once_its_finished_rows_are_enough(sampler: Sampler) -> None:
    full = sampler.generate(prompt_prefix(), 8, SETTINGS)
    asked: list[list[int]] = []

    def three_finished(finished: list[Sample]) -> bool:
        asked.append([sample.row for sample in finished])
        return len(finished) >= 3

    cut = sampler.generate(prompt_prefix(), 8, SETTINGS, enough=three_finished)

    assert all(sample.reached_end for sample in full)
    third = sorted(sample.new_tokens for sample in full)[2]
    first_three = {sample.row for sample in full if sample.new_tokens <= third}
    assert {sample.row for sample in cut if sample.reached_end} == first_three
    # Asked at each step on which rows ended, with every row finished by then, until enough.
    steps = sorted({sample.new_tokens for sample in full if sample.new_tokens <= third})
    assert asked == [[s.row for s in full if s.new_tokens <= step] for step in steps]
    for before, after in zip(full, cut, strict=True):
        if after.reached_end:  # a finished row is what the whole batch writes in that row
            assert after == before
        else:  # the rest stopped at the step the third row ended, mid-text
            assert after.new_tokens == third + 1 < before.new_tokens
            assert after.surprises == before.surprises[: third + 1]


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_training_detector")
def test_a_quorum_judges_the_texts_that_finished_first(sampler: Sampler) -> None:
    policy = Policy(against_pool=False)
    prompt = prompt_prefix()
    settings = replace(SETTINGS, seed=31)

    everything = write(sampler, prompt, 8, settings, policy, FluencyCritic())
    quorum = write(sampler, prompt, 8, settings, policy, FluencyCritic(), quorum=2)

    assert len(everything.kept) > 2, everything.rejections
    second = sorted(c.item.sample.new_tokens for c in everything.kept)[1]
    first_kept = [c for c in everything.kept if c.item.sample.new_tokens <= second]
    assert quorum.kept == first_kept
    assert all(sample.reached_end for sample in quorum.samples)  # rows cut short: no candidates
    assert len(quorum.samples) < len(everything.samples)


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_training_detector")
def test_a_pitch_at_its_quorum_stores_a_text_its_row_resamples(
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
    with override_settings(PITCH_QUORUM=8):
        full = get_sampler(active_run.checkpoint_path, text.sampler_dtype).generate(
            pitch_prompt(pitch.kind, ["Dramas"], pitch.title),
            8,
            text.sampling_settings(),
            chunk_size=8,
            is_real_title=get_detector().has_title,
        )
    assert parse_record(full[text.batch_row].text).description == text.text
    # The prompt, then a step per token of the first text to pass: none after its end marker.
    assert len(steps) == 1 + full[text.batch_row].new_tokens
    assert len(steps) < 1 + max(sample.new_tokens for sample in full)
