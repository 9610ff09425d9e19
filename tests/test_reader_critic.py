"""The reader critic: a probe on the writer's own hidden states, fitted on its texts against real
ones, saved as plain data, and picked by GENERATION_CRITIC=reader once the evaluation fitted it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator.ml.format import END_TOKEN, START_TOKEN, Sample, format_record
from generator.ml.reader_probe import PROBE_FILE, ProbeError, ReaderProbe, reading
from generator.ml.reranking import RealismScorer
from generator.ml.sampling import Sampler
from generator.models import ModelRun
from generator.writing import NGRAM, READER, NgramCritic, Policy, ReaderCritic, critic_for, judge
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import ModelRunFactory, invented_text


def _plain(number: int) -> str:
    return reading("movie", f"Quiet Film {number}", invented_text(number, "catalogue"))


def _babble(number: int) -> str:
    # Invented words, none twice: what a reader would not believe, in a form the screen passes.
    words = " ".join(
        "".join("zqxkvw"[(number * 7 + word * 5 + letter) % 6] for letter in range(3 + word % 3))
        + "aeiou"[(number + word) % 5]
        for word in range(12)
    )
    return reading("tv", f"Zq Vv {number}", words.capitalize() + ".")


@pytest.fixture(scope="module")
def sampler(trained_checkpoint: Path) -> Sampler:
    return Sampler(trained_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def probe(sampler: Sampler) -> ReaderProbe:
    return ReaderProbe.fit(
        sampler.model,
        sampler.tokenizer,
        [_babble(n) for n in range(12)],
        [_plain(n) for n in range(12)],
        strength=1.0,
    )


def test_it_doubts_texts_like_the_generated_ones_more(probe: ReaderProbe, sampler: Sampler) -> None:
    doubts = probe.doubts(sampler.model, sampler.tokenizer, [_plain(40), _babble(40)])

    assert doubts[0] < 0.5 < doubts[1]


def test_a_saved_probe_is_plain_data_and_scores_the_same(
    probe: ReaderProbe, sampler: Sampler, tmp_path: Path
) -> None:
    texts = [_plain(41), _babble(41)]
    probe.save(tmp_path)

    loaded = ReaderProbe.load(tmp_path)

    assert loaded is not None
    assert loaded.doubts(sampler.model, sampler.tokenizer, texts) == pytest.approx(
        probe.doubts(sampler.model, sampler.tokenizer, texts), abs=1e-5
    )
    assert set(json.loads((tmp_path / PROBE_FILE).read_text())) == {
        "layers", "mean", "scale", "weights", "bias"
    }  # fmt: skip
    assert ReaderProbe.load(tmp_path / "elsewhere") is None


def test_too_few_texts_is_a_clear_error(sampler: Sampler) -> None:
    with pytest.raises(ProbeError, match="needs 10 generated and real texts, not 3 and 12"):
        ReaderProbe.fit(
            sampler.model, sampler.tokenizer, [_babble(n) for n in range(3)],
            [_plain(n) for n in range(12)],
        )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_training_detector")
def test_the_setting_picks_it_once_fitted_and_it_ranks_a_batch(
    probe: ReaderProbe, sampler: Sampler, settings: Any, tmp_path: Path
) -> None:
    run: ModelRun = ModelRunFactory.create(checkpoint_path=str(tmp_path))
    settings.GENERATION_CRITIC = READER
    assert critic_for(run, sampler) is None  # nothing fitted yet
    RealismScorer.fit(
        [invented_text(n, "film") for n in range(12)],
        [invented_text(n, "catalogue") for n in range(12)],
    ).save(tmp_path)
    assert isinstance(critic_for(run, sampler), NgramCritic)  # the fallback
    probe.save(tmp_path)

    critic = critic_for(run, sampler)

    assert isinstance(critic, ReaderCritic)
    settings.GENERATION_CRITIC = NGRAM
    assert isinstance(critic_for(run, sampler), NgramCritic)
    samples = []
    for row, (title, text) in enumerate(
        [
            ("Quiet Film 50", invented_text(50, "catalogue")),
            ("Zq Vv 50", _babble(50).split("\n")[1]),
        ]
    ):
        record = format_record("movie", ["Dramas"], title, text)
        samples.append(
            Sample(record.removeprefix(START_TOKEN).removesuffix(END_TOKEN), True, 30, row)
        )
    written = judge(samples, Policy(kind="movie", keep_share=0.5, against_pool=False), critic)
    assert [candidate.item.sample.row for candidate in written.kept] == [0]
    assert written.rejections["less_real"] == 1, written.rejections
