"""Copies with a few words swapped, dropped or inserted (names changed, an adjective added)."""

import pytest

from generator.ml.overfit import EDITED, PARTIAL
from tests.corpus import build_detector, text_of

DETECTOR = build_detector()

EDITED_COPIES = [
    pytest.param(
        "f8",
        "Captain Margit Svensson has run the Hamburg harbour ferry for thirty years, until a "
        "property developer buys the pier and declares war on her passengers.",
        id="name-changed",
    ),
    pytest.param(
        "f5",
        "When her orchestra loses its brilliant conductor on the eve of a world tour, a shy young "
        "woman from the back row must lead ninety rivals to Vienna.",
        id="adjectives-added",
    ),
    pytest.param(
        "f13",
        "After inheriting a honey farm in Provence, a London banker must decide whether to sell "
        "the land or save the hives.",
        id="words-dropped",
    ),
    pytest.param(
        "f21",
        "When every phone in Nairobi goes silent for a week, a radio host and a young hacker race "
        "to find out who switched the city off and why.",
        id="place-changed-and-word-inserted",
    ),
    pytest.param(
        "f7",
        "Two night guards discover that the old clocks they protect can rewind the last hour, and "
        "start fixing the worst mistakes of their lives.",
        id="words-swapped",
    ),
    pytest.param(
        "f29",
        "Three bored grandfathers in Wisconsin plan the perfect robbery of the county fair's "
        "famous ice cream truck, with help from a retired getaway driver.",
        id="names-and-places-changed",
    ),
]


@pytest.mark.parametrize(("key", "text"), EDITED_COPIES)
def test_it_catches_edited_copies(key: str, text: str) -> None:
    verdict = DETECTOR.check(text)

    assert verdict.overfit, verdict
    assert verdict.reason in (EDITED, PARTIAL)
    assert verdict.nearest is not None and verdict.nearest.key == key
    assert verdict.span and verdict.span in text


def test_the_span_covers_the_copied_region() -> None:
    text = (
        "Captain Margit Svensson has run the Hamburg harbour ferry for thirty years, until a "
        "property developer buys the pier and declares war on her passengers."
    )

    verdict = DETECTOR.check(text)

    # The changed name is not copied; everything after it is.
    assert verdict.span.startswith("has run the Hamburg harbour ferry")
    assert verdict.span.endswith("declares war on her passengers")
    assert text_of("f8").endswith(verdict.span + ".")
