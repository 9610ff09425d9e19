"""Original texts that merely share stock phrasing with the training data are not flagged."""

import pytest

from generator.ml.overfit import Detector, Document
from tests.corpus import ORIGINALS, TRAINING, build_detector

DETECTOR = build_detector()


@pytest.mark.parametrize("text", ORIGINALS)
def test_original_texts_pass(text: str) -> None:
    verdict = DETECTOR.check(text, "An Original Title")

    assert not verdict.overfit, verdict
    assert verdict.score < 0.6, verdict


def test_stock_phrases_alone_are_not_copies() -> None:
    for text in ("In this documentary,", "a young woman", "must find a way", "in this stand-up"):
        assert not DETECTOR.check(text).overfit, text


def test_a_text_sharing_its_opening_with_many_titles_passes() -> None:
    templated = [
        Document(f"d{n}", f"Doc {n}", f"In this documentary, {subject} recount their lives.")
        for n, subject in enumerate(["miners", "nurses", "pilots", "monks", "chefs", "divers"])
    ]
    detector = Detector([*TRAINING, *templated])

    verdict = detector.check(
        "In this documentary, the beekeepers of a Slovenian valley fight to save a rare bee "
        "from a pesticide that is killing their hives."
    )

    assert not verdict.overfit, verdict


def test_nothing_in_common_scores_zero() -> None:
    verdict = DETECTOR.check("Zyx qwv plmok.")

    assert verdict == verdict.__class__(False, 0.0, "", None, "")
