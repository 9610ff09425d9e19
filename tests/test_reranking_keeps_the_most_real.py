"""The reranker keeps the texts that read like the real ones it was fitted on (plain ML side)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from generator.ml.reranking import SCORER_FILE, RealismScorer, RerankError, least_doubted

PLACES: tuple[str, ...] = (
    *("Lisbon", "Osaka", "Lagos", "Quebec", "Perth", "Lima", "Oslo", "Seoul", "Cairo", "Rome"),
    *("Dakar", "Hanoi", "Porto", "Tunis", "Kyoto", "Quito"),
)
JOBS: tuple[str, ...] = (
    *("beekeeper", "ferry pilot", "tax auditor", "puppeteer", "glassblower", "sommelier"),
    *("cartographer", "locksmith"),
)


def _generic(number: int) -> str:
    # What the small model overproduces: the same frame with a word changed.
    return f"A young man must find a way to face the greatest challenge of all in {PLACES[number]}."


def _specific(number: int) -> str:
    job = JOBS[number % len(JOBS)]
    return f"In {PLACES[number]}, a retired {job} with a stolen ledger bargains with old rivals."


@pytest.fixture(scope="module")
def scorer() -> RealismScorer:
    return RealismScorer.fit([_generic(n) for n in range(12)], [_specific(n) for n in range(12)])


def test_it_keeps_the_share_that_reads_most_real_in_the_batch_order(scorer: RealismScorer) -> None:
    batch = [_generic(12), _specific(13), _generic(14), _specific(15), _specific(12), _generic(13)]

    doubts = scorer.generated_likelihood(batch)
    kept = least_doubted(list(range(6)), doubts, keep_share=0.5)

    assert kept == [1, 3, 4]
    assert set(least_doubted(batch, doubts, keep_share=0.5)) == {batch[1], batch[3], batch[4]}


def test_a_keep_share_of_one_keeps_everything_and_a_tiny_one_keeps_one(
    scorer: RealismScorer,
) -> None:
    batch = [_generic(14), _specific(15)]

    doubts = scorer.generated_likelihood(batch)
    assert least_doubted(batch, doubts, keep_share=1.0) == batch
    assert least_doubted(batch, doubts, keep_share=0.01) == [batch[1]]
    assert least_doubted([], [], keep_share=0.5) == []


def test_a_saved_scorer_loads_with_the_same_scores(scorer: RealismScorer, tmp_path: Path) -> None:
    texts = [_generic(15), _specific(14)]
    scorer.save(tmp_path)

    loaded = RealismScorer.load(tmp_path)

    assert loaded is not None
    assert loaded.generated_likelihood(texts) == pytest.approx(scorer.generated_likelihood(texts))
    assert RealismScorer.load(tmp_path / "elsewhere") is None
    # Plain data: loading it runs no code, whoever could write the models volume.
    saved = json.loads((tmp_path / SCORER_FILE).read_text(encoding="utf-8"))
    assert set(saved) == {"vectorizers", "coefficients", "intercept"}


def test_too_few_texts_or_a_bad_share_is_a_clear_error(scorer: RealismScorer) -> None:
    with pytest.raises(RerankError, match="needs 10 generated and real texts, not 3 and 12"):
        RealismScorer.fit([_generic(n) for n in range(3)], [_specific(n) for n in range(12)])
    for share in (0.0, 1.5, -1.0):
        with pytest.raises(RerankError, match="keep share must be above 0 and at most 1"):
            least_doubted(["a"], scorer.generated_likelihood(["a"]), keep_share=share)


def test_a_saved_scorer_is_read_once_until_its_file_changes(
    scorer: RealismScorer, tmp_path: Path
) -> None:
    scorer.save(tmp_path)
    first = RealismScorer.load(tmp_path)

    assert RealismScorer.load(tmp_path) is first  # every batch asks: read from disk once
    refitted = RealismScorer.fit(
        [_specific(n) for n in range(12)], [_generic(n) for n in range(12)]
    )
    refitted.save(tmp_path)
    os.utime(tmp_path / SCORER_FILE, ns=(1, 2))  # a re-evaluation writes it anew
    again = RealismScorer.load(tmp_path)

    assert again is not None and again is not first
    texts = [_generic(20 % len(PLACES))]
    assert again.generated_likelihood(texts) == refitted.generated_likelihood(texts)
