"""A pitch stops sampling once enough of its candidates have finished and passed: the texts it
picks from are those of the whole batch that finished first, token for token (what it stores is
re-sampled from its row alone: tests/test_stored_texts_resample_exactly.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from generator.ml.config import SamplingSettings
from generator.ml.format import Sample, prompt_prefix
from generator.ml.sampling import Sampler
from generator.writing import FluencyCritic, Policy, write
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark

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
