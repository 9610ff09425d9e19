"""Two halves of two different descriptions spliced together are caught as one copy."""

from generator.ml.overfit import SPLICED
from tests.corpus import build_detector

DETECTOR = build_detector()


def test_it_catches_two_halves_spliced() -> None:
    text = (
        "Three estranged sisters return to their grandmother's village in Hoi An for her funeral "
        "and start living the lives stitched into each suit."
    )

    verdict = DETECTOR.check(text)

    assert verdict.overfit, verdict
    assert verdict.reason == SPLICED
    assert set(verdict.sources) == {"f9", "f18"}
    assert verdict.nearest is not None and verdict.nearest.key in {"f9", "f18"}
    assert verdict.span == text.rstrip(".")


def test_it_catches_a_three_way_splice() -> None:
    text = (
        "A deaf goalkeeper from Cork fights his way onto the national team, "
        "feeds a parade of lonely regulars, "
        "and cause chaos across the city of Lexicon."
    )

    verdict = DETECTOR.check(text)

    assert verdict.overfit, verdict
    assert set(verdict.sources) == {"f10", "f24", "f14"}


def test_each_half_alone_is_caught_too() -> None:
    first_half = "Three estranged sisters return to their grandmother's village in Hoi An"

    assert DETECTOR.check(first_half).overfit
