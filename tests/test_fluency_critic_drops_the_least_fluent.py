"""The fluency critic keeps the texts its writer was least surprised by, and needs no fitting."""

from __future__ import annotations

from typing import Any

import pytest

from generator.ml.format import END_TOKEN, START_TOKEN, Sample, format_record
from generator.models import ModelRun
from generator.writing import (
    FLUENCY,
    NGRAM,
    FluencyCritic,
    Policy,
    critic_for,
    judge,
    most_believable,
)
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import ModelRunFactory, invented_text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]


def _sample(row: int, surprise: float) -> Sample:
    record = format_record("movie", ["Dramas"], f"Invented Film {row}", invented_text(row, "film"))
    text = record.removeprefix(START_TOKEN).removesuffix(END_TOKEN)
    return Sample(text, True, 30, row, surprises=(surprise, surprise + 1.0, surprise - 1.0))


def test_it_keeps_the_share_its_writer_found_most_fluent_in_sampling_order() -> None:
    surprises = [3.0, 1.5, 4.2, 2.0, 2.5, 5.0]
    samples = [_sample(row, value) for row, value in enumerate(surprises)]

    written = judge(
        samples, Policy(kind="movie", keep_share=0.5, against_pool=False), FluencyCritic()
    )

    assert [candidate.item.sample.row for candidate in written.kept] == [1, 3, 4]
    assert written.rejections["less_real"] == 3
    assert [candidate.doubt for candidate in written.kept] == [1.5, 2.0, 2.5]
    best = most_believable(written.kept)
    assert best is not None and best.item.sample.row == 1


def test_the_site_setting_picks_the_critic(settings: Any, tmp_path: Any) -> None:
    run: ModelRun = ModelRunFactory.create(checkpoint_path=str(tmp_path))
    sampler: Any = None  # only the reader critic reads with the sampler's model
    settings.GENERATION_CRITIC = FLUENCY
    assert isinstance(critic_for(run, sampler), FluencyCritic)
    settings.GENERATION_CRITIC = NGRAM
    # Not fitted yet: no evaluation wrote one beside the checkpoint.
    assert critic_for(run, sampler) is None
