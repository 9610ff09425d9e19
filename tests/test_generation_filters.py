import pytest

from generator.ml.filters import (
    DUPLICATE,
    MALFORMED,
    NO_END,
    REPETITIVE,
    TOO_LONG,
    TOO_SHORT,
    is_repetitive,
    screen,
)
from generator.ml.format import Sample

GOOD = "[Movie] [Dramas] Title: Paper Moons | A retired astronaut teaches a village to build kites."


def _sample(text: str, reached_end: bool = True) -> Sample:
    return Sample(text=text, reached_end=reached_end, new_tokens=30, row=0)


def _reason(text: str, reached_end: bool, kind: str | None, genres: list[str]) -> str | None:
    result = screen(
        [_sample(text, reached_end)],
        kind=kind,
        genres=genres,
        known_genres={"Dramas", "Comedies", "TV Horror"},
    )
    if result.accepted:
        return None
    return next(iter(result.rejections))


def test_it_accepts_a_well_formed_record() -> None:
    result = screen([_sample(GOOD)], kind="movie", genres=["Dramas"], known_genres={"Dramas"})

    assert [item.record.title for item in result.accepted] == ["Paper Moons"]
    assert not result.rejections


@pytest.mark.parametrize(
    "text, reached_end, kind, genres, reason",
    [
        (GOOD, False, None, [], NO_END),
        ("Paper Moons, a film about kites and a long journey home.", True, None, [], MALFORMED),
        (
            "[Movie] [Westerns] Title: Dust | " + "A drifter finds a town with no past. " * 2,
            True,
            None,
            [],
            MALFORMED,
        ),
        (GOOD, True, "tv", [], MALFORMED),
        (GOOD, True, None, ["Comedies"], MALFORMED),
        ("[Movie] [Dramas] Title: Short | Too short.", True, None, [], TOO_SHORT),
        ("[Movie] [Dramas] Title: Long | " + "word " * 120, True, None, [], TOO_LONG),
        (
            "[Movie] [Dramas] Title: Loop | the cat sat on the mat and the cat sat on the mat "
            "and the cat sat on the mat.",
            True,
            None,
            [],
            REPETITIVE,
        ),
    ],
)
def test_it_rejects_with_a_reason(
    text: str, reached_end: bool, kind: str | None, genres: list[str], reason: str
) -> None:
    assert _reason(text, reached_end, kind, genres) == reason


def test_it_rejects_duplicates_within_the_batch_and_the_pool() -> None:
    from generator.ml.text import text_hash

    other = GOOD.replace("Paper Moons", "Other Moons").replace("kites", "boats")
    existing = {text_hash("A retired astronaut teaches a village to build boats.")}

    result = screen(
        [
            _sample(GOOD),
            _sample(GOOD.upper().replace("[MOVIE] [DRAMAS] TITLE:", "[Movie] [Dramas] Title:")),
            _sample(other),
        ],
        known_genres={"Dramas"},
        existing_hashes=existing,
    )

    assert [item.record.title for item in result.accepted] == ["Paper Moons"]
    assert result.rejections == {DUPLICATE: 2}


def test_repetition_is_judged_on_words() -> None:
    assert is_repetitive("go go go go go go go go go go go go")
    assert not is_repetitive("A nurse on the night shift hears voices in the walls of the ward.")
