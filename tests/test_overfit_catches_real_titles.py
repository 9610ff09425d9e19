"""A generated title equal to a real one is caught, even under an original description."""

from generator.ml.overfit import TITLE, Thresholds
from tests.corpus import ORIGINALS, build_detector

DETECTOR = build_detector()


def test_it_catches_a_real_title_over_an_original_text() -> None:
    verdict = DETECTOR.check(ORIGINALS[0], "The Marathon Monk")

    assert verdict.overfit
    assert verdict.reason == TITLE
    assert verdict.score == 1.0
    assert verdict.nearest is not None and verdict.nearest.key == "f17"
    assert verdict.span == "The Marathon Monk"


def test_titles_are_compared_without_case_punctuation_or_spacing() -> None:
    verdict = DETECTOR.check(ORIGINALS[1], "  LAST TRAIN   TO TROMSØ! ")

    assert verdict.overfit
    assert verdict.nearest is not None and verdict.nearest.key == "f16"


def test_an_original_title_passes() -> None:
    verdict = DETECTOR.check(ORIGINALS[1], "The Harbour Master's Debt")

    assert not verdict.overfit


def test_a_title_that_only_contains_a_real_one_passes() -> None:
    verdict = DETECTOR.check(ORIGINALS[2], "Mothballs in Winter")

    assert not verdict.overfit


def test_title_checks_can_be_switched_off() -> None:
    verdict = DETECTOR.check(ORIGINALS[0], "The Marathon Monk", Thresholds(check_titles=False))

    assert not verdict.overfit
