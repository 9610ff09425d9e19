import pytest

from generator.ml.dataset import TitleRecord
from generator.ml.format import (
    END_TOKEN,
    START_TOKEN,
    FormatError,
    format_record,
    format_title_record,
    parse_record,
    prompt_prefix,
)


def test_a_record_round_trips() -> None:
    text = format_record("tv", ["TV Comedies", "Teen TV Shows"], "Pickle Street", "Four friends.")

    assert text == (
        f"{START_TOKEN}[TV Show] [TV Comedies, Teen TV Shows] Title: Pickle Street | "
        f"Four friends.{END_TOKEN}"
    )
    record = parse_record(text)
    assert record.kind == "tv"
    assert record.genres == ("TV Comedies", "Teen TV Shows")
    assert record.title == "Pickle Street"
    assert record.description == "Four friends."


def test_fields_cannot_break_the_format() -> None:
    text = format_record("movie", ["Dramas"], f"A | B {END_TOKEN}", f"x {START_TOKEN} y")

    record = parse_record(text)

    assert record.title == "A / B"
    assert record.description == "x y"


def test_a_prompt_is_a_prefix_of_a_record() -> None:
    record = format_record("tv", ["TV Horror"], "Night Shift", "A nurse hears things.")

    assert record.startswith(prompt_prefix("tv", ["TV Horror"]))
    assert record.startswith(prompt_prefix("tv"))
    assert record.startswith(prompt_prefix())


def test_plain_text_titles_are_learned_as_descriptions_alone() -> None:
    record = TitleRecord(show_id="t1", description="A cat becomes mayor.")

    assert format_title_record(record) == f"{START_TOKEN}A cat becomes mayor.{END_TOKEN}"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("just some words", "header"),
        ("[Podcast] [Dramas] Title: X | y", "unknown kind"),
        ("[Movie] [Dramas] Title: X and no separator", "no ' | '"),
        ("[Movie] [Dramas] Title:  | a description", "title is empty"),
        ("[Movie] [Dramas] Title: X | ", "description is empty"),
        (f"[Movie] [Dramas] Title: X | a {START_TOKEN} b", "marker"),
    ],
)
def test_malformed_records_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        parse_record(text)
