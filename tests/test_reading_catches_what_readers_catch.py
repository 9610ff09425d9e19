"""generator.ml.reading names what blind readers caught first in served texts, and passes
ordinary catalogue prose (the rates on real descriptions are in docs/evaluation.md)."""

from __future__ import annotations

from typing import Any

import pytest

from generator.ml.format import Record
from generator.ml.reading import (
    ARTICLE,
    DOUBLED_WORD,
    EXTENDS_REAL_TITLE,
    INVENTED_WORD,
    REAL_PERSON,
    REPEATED_PHRASE,
    WRONG_KIND,
    Facts,
    Lexicon,
    invented_words,
    problem,
    real_people,
    slips,
)
from generator.ml.text import printable
from generator.models import GeneratedDescription, GenerationBatch
from generator.overfit_check import get_facts
from generator.pipeline import run_batch
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used below
from tests.factories import batch_sampling

FACTS = Facts.from_columns(
    titles=["Lantern Men 3", "Up", "The Quiet Orchard", "Salt Roads"],
    credits=["Marla Quennick, Osric Vandermolen", "Tobiah Fenwright", ""],
)
GOOD = (
    "When a retired lighthouse keeper finds a stranger's diary, she follows its clues across "
    "the windswept coast of Maine and into an uneasy friendship with the author's son."
)


def _record(description: str = GOOD, title: str = "Salt and Paper", kind: str = "movie") -> Record:
    return Record(kind, ("Dramas",), title, description)


def test_ordinary_catalogue_prose_has_no_problem() -> None:
    assert problem(_record(), Lexicon.english(), FACTS) is None
    assert problem(_record(kind="tv"), Lexicon.english(), FACTS) is None


@pytest.mark.parametrize(
    "text",
    [
        "Two assassines hunt a goamutar through the old quarter of Lisbon.",
        "A brilliant but snorkatean chemist falls for her rival.",
        "The murderr returns to the town where it all began.",
    ],
)
def test_an_invented_lowercase_word_is_caught_first(text: str) -> None:
    assert problem(_record(text), Lexicon.english(), FACTS) == INVENTED_WORD


def test_invented_names_possessives_and_accents_are_not_invented_words() -> None:
    text = "Zorvanna's brother's café opens in Grelmouth, and the divorcée's kids say it's doomed."
    assert invented_words(text, Lexicon.english()) == []


@pytest.mark.parametrize(
    ("text", "slip"),
    [
        ("An ruthless banker and a outsider team up to rob the town's only casino.", ARTICLE),
        ("A young chef opens a restaurant in the the heart of Rome.", DOUBLED_WORD),
        ("Two sisters travel in India in India to find their missing father.", REPEATED_PHRASE),
    ],
)
def test_grammar_an_editor_would_not_pass(text: str, slip: str) -> None:
    assert slips(_record(text), FACTS) == [slip]


@pytest.mark.parametrize(
    "text",
    [
        "An honest cop, a one-time boxer and a unique European heir go undercover.",
        "A Ouija board and an FBI agent's notes lead a teen to an hour she cannot forget.",
        "He said that that was the last time they had had a chance to leave.",
    ],
)
def test_what_reads_right_is_not_a_slip(text: str) -> None:
    assert slips(_record(text), FACTS) == []


def test_a_title_that_extends_a_real_title_is_caught_but_not_a_short_common_start() -> None:
    assert slips(_record(title="Lantern Men 3: New Homecoming"), FACTS) == [EXTENDS_REAL_TITLE]
    assert slips(_record(title="Up in the Hollow Hills"), FACTS) == []
    # The real title itself is the overfit check's to hold, not this one's.
    assert slips(_record(title="The Quiet Orchard"), FACTS) == []
    assert slips(_record(title="The Quiet Orchard Returns"), FACTS) == [EXTENDS_REAL_TITLE]
    # A two-word real title extended as a sequel or a part, but not merely continued.
    assert slips(_record(title="Salt Roads 2"), FACTS) == [EXTENDS_REAL_TITLE]
    assert slips(_record(title="Salt Roads: The Return"), FACTS) == [EXTENDS_REAL_TITLE]
    assert slips(_record(title="Salt Roads of Home"), FACTS) == []


def test_a_real_person_named_in_the_title_or_text_is_caught() -> None:
    text = "Director Tobiah Fenwright follows a chess prodigy through her first tournament."
    assert slips(_record(text), FACTS) == [REAL_PERSON]
    assert slips(_record(title="Marla Quennick"), FACTS) == [REAL_PERSON]
    assert real_people("a tobiah fenwright in lowercase is no name", FACTS) == []


@pytest.mark.parametrize(
    ("kind", "title", "text"),
    [
        ("tv", "The Glass Lake: An Independent Movie", GOOD),
        ("tv", "The Glass Lake", "In this film, a lighthouse keeper finds a diary."),
        ("movie", "The Glass Lake", "This docuseries follows a lighthouse keeper for a year."),
        ("movie", "The Glass Lake", "In this live-action series, a keeper finds a diary."),
        ("movie", "The Glass Lake: Season 2", GOOD),
    ],
)
def test_a_title_or_text_that_says_the_other_kind_is_caught(
    kind: str, title: str, text: str
) -> None:
    assert slips(_record(text, title, kind), FACTS) == [WRONG_KIND]


def test_a_season_word_in_a_film_title_without_a_number_passes() -> None:
    assert slips(_record(GOOD, title="Open Season", kind="movie"), FACTS) == []


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_training_detector", "tiny_model_genres")
def test_batches_hold_what_a_reader_would_catch(active_run: Any, settings: Any) -> None:
    """The tiny model writes fragments: with the checks on, a batch stores none of its
    invented words, and says how many texts it held for which reason."""
    settings.GENERATION_READER_CHECKS = True
    batch = GenerationBatch.objects.create(
        model_run=active_run, requested=32, sampling=batch_sampling(seed=4)
    )

    done = run_batch(batch.pk)

    assert done is not None
    assert done.rejections.get(INVENTED_WORD, 0) > 0
    for text in GeneratedDescription.objects.filter(batch=batch):
        record = Record(text.kind, (), text.title, text.text)
        assert problem(record, Lexicon.english(), get_facts()) is None, text.text


def test_control_characters_a_tokenizer_decodes_become_spaces() -> None:
    """PostgreSQL refuses NUL in text and JSON; a byte-level tokenizer can decode one."""
    assert printable("Two\x00 rivals\tshare\x7f an oven.") == "Two  rivals share  an oven."
