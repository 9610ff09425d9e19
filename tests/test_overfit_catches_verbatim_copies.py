"""Verbatim copies, and copies with only case, punctuation or whitespace changed, are caught."""

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.ml.overfit import EXACT, THRESHOLD, Document
from tests.corpus import TRAINING, build_detector, text_of

DETECTOR = build_detector()


@pytest.mark.parametrize("document", TRAINING, ids=lambda d: d.key)
def test_it_catches_every_verbatim_copy(document: Document) -> None:
    verdict = DETECTOR.check(document.text)

    assert verdict.overfit
    assert verdict.score == 1.0
    assert verdict.reason == EXACT
    assert verdict.nearest == document
    assert verdict.span == document.text


def test_it_catches_case_punctuation_and_whitespace_changes() -> None:
    original = text_of("f3")
    changed = (
        "ON A FAILING SPACE-STATION a young baker MUST find a way to save the crews morale...  "
        "one   floating\tcake at a time!!"
    )

    verdict = DETECTOR.check(changed)

    assert verdict.overfit
    assert verdict.reason == EXACT
    assert verdict.nearest is not None and verdict.nearest.text == original


def test_it_catches_accents_and_curly_apostrophes() -> None:
    verdict = DETECTOR.check(
        "A grieving tailor in Buenos Aires opens a strangér’s forgotten wardrobe and starts "
        "living the lives stitched into each suit"
    )

    assert verdict.overfit
    assert verdict.nearest is not None and verdict.nearest.key == "f18"


_CASES = (str.upper, str.lower, str.title, str.swapcase)


@settings(max_examples=150, deadline=None)
@given(
    index=st.integers(0, len(TRAINING) - 1),
    case=st.sampled_from(_CASES),
    punctuation=st.sampled_from(["", " ", " - ", "; ", "..."]),
    spaces=st.sampled_from([" ", "  ", "\t", " \n "]),
)
def test_any_reformatting_of_a_training_text_is_caught(
    index: int, case: Callable[[str], str], punctuation: str, spaces: str
) -> None:
    document = TRAINING[index]
    text = re.sub(r"[,.'’]", punctuation, case(document.text)).replace(" ", spaces)

    verdict = DETECTOR.check(text)

    assert verdict.overfit
    assert verdict.score >= THRESHOLD
    assert verdict.nearest is not None and verdict.nearest.key == document.key
