"""A long verbatim run from one description is a copy: truncated, or inside a new text."""

from generator.ml.overfit import PARTIAL
from tests.corpus import build_detector

DETECTOR = build_detector()


def test_it_catches_the_first_half_of_a_description() -> None:
    text = "Snowed in on an overnight train, a group of strangers realise that one of them is not"

    verdict = DETECTOR.check(text)

    assert verdict.overfit
    assert verdict.reason == PARTIAL
    assert verdict.nearest is not None and verdict.nearest.key == "f16"
    assert verdict.span == text


def test_it_catches_a_run_from_the_middle_of_a_description() -> None:
    text = "a radio host and a hacker race to find out who switched the city off"

    verdict = DETECTOR.check(text)

    assert verdict.overfit
    assert verdict.nearest is not None and verdict.nearest.key == "f21"


def test_it_catches_a_long_run_inside_an_otherwise_new_text() -> None:
    copied = "pull up something frozen for ten thousand years that is still breathing"
    text = (
        "Deep beneath the Antarctic ice, a lonely engineer and her estranged son "
        f"{copied}, and the base commander wants it kept secret from the world at any cost."
    )

    verdict = DETECTOR.check(text)

    assert verdict.overfit
    assert verdict.reason == PARTIAL
    assert verdict.nearest is not None and verdict.nearest.key == "f22"
    assert verdict.span == copied


def test_a_short_shared_phrase_inside_a_new_text_is_not_a_copy() -> None:
    text = (
        "A team of climate scientists stranded on a drifting ice floe must decide who to trust "
        "when their radio picks up a distress call from a ship that sank in 1912."
    )

    verdict = DETECTOR.check(text)

    assert not verdict.overfit, verdict
