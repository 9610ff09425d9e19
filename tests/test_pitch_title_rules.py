"""A pitched title is checked before anything is queued: length, characters, URLs, the blocklist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from generator.ml.format import END_TOKEN, START_TOKEN, parse_record, pitch_prompt
from generator.ml.pitch_rules import SHIPPED_BLOCKLIST, Blocklist, TitleError, clean_title
from generator.models import Pitch
from generator.pitch_policy import blocklist
from tests.factories import TrainingTitleFactory

WORDS = Blocklist.from_lines(["# a comment", "grimwort", "Bad Word Pair", ""])


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  The   Last  Umbrella ", "The Last Umbrella"),
        ("Amélie's Ninth Life: Part 2", "Amélie's Ninth Life: Part 2"),
        ("東京の夜", "東京の夜"),
        ("What? No! (Again) - 100% Sure & #1", "What? No! (Again) - 100% Sure & #1"),
        ("x" * 80, "x" * 80),
    ],
)
def test_good_titles_pass_normalised(raw: str, cleaned: str) -> None:
    assert clean_title(raw, WORDS) == cleaned


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Give the film or show a title."),
        ("   \n ", "Give the film or show a title."),
        ("x" * 81, "Keep the title to 80 characters (this one has 81)."),
        ("Visit https://example.org now", "A title cannot be a web address."),
        ("www.spam-site.com", "A title cannot be a web address."),
        ("cheap-pills.xyz", "A title cannot be a web address."),
        ("Title | With Pipes", "Use letters, digits and ordinary punctuation only (not '|')."),
        ("<script>", "Use letters, digits and ordinary punctuation only (not '<' '>')."),
        ("[Movie] Trick", "Use letters, digits and ordinary punctuation only (not '[' ']')."),
        ("?!?", "A title needs at least one letter or digit."),
        ("The GRIMWORT Affair", "That title uses a word this site does not print. Try another."),
        ("Grímworts", "That title uses a word this site does not print. Try another."),
        ("a bad word pair", "That title uses a word this site does not print. Try another."),
    ],
)
def test_bad_titles_are_refused_with_a_clear_message(raw: str, message: str) -> None:
    with pytest.raises(TitleError) as refused:
        clean_title(raw, WORDS)
    assert str(refused.value) == message


def test_blocklist_matches_whole_folded_words_only() -> None:
    assert WORDS.match("the grimwort returns") == "grimwort"
    assert WORDS.match("bad word, pair!") == "bad word pair"
    assert WORDS.match("grimworthy and scunthorpe") is None  # no word inside another
    assert WORDS.match("bad pair word") is None


def test_the_shipped_list_is_real_and_loads() -> None:
    shipped = Blocklist.from_files([SHIPPED_BLOCKLIST])
    assert len(shipped.terms) >= 30
    assert shipped.match("A Night of the Retards") == "retard"


@pytest.mark.parametrize(
    "disguised",
    [
        "A Night of the Ret\u0336ards",  # a combining strike-through inside the word
        "A Night of the R\u0435tards",  # a Cyrillic e
        "A Night of the R3tards",  # a digit for a letter
        "A Night of the RETARD$",
        "A Night of the \uff32etards",  # a fullwidth R (NFKC)
    ],
)
def test_disguised_blocklisted_words_are_still_caught(disguised: str) -> None:
    shipped = Blocklist.from_files([SHIPPED_BLOCKLIST])

    assert shipped.match(disguised) == "retard"
    with pytest.raises(TitleError):
        clean_title(disguised, shipped)


def test_numbers_and_ordinary_words_are_not_read_as_disguises() -> None:
    shipped = Blocklist.from_files([SHIPPED_BLOCKLIST])

    for title in ("2001 Nights", "Apollo 13", "R2 and the 4 Seasons", "Scunthorpe 1984"):
        assert shipped.match(title) is None, title


def test_a_missing_operator_file_is_an_error_not_skipped(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing.txt"):
        Blocklist.from_files([SHIPPED_BLOCKLIST, tmp_path / "missing.txt"])


def test_the_pitch_prompt_is_a_record_up_to_the_description() -> None:
    prompt = pitch_prompt("tv", ["TV Horror"], "Night | Ward [2]")

    assert prompt == f"{START_TOKEN}[TV Show] [TV Horror] Title: Night / Ward [2] |"
    record = parse_record(prompt + " A nurse hears the walls talk back." + END_TOKEN)
    assert record.title == "Night / Ward [2]"
    assert record.description == "A nurse hears the walls talk back."
    assert record.genres == ("TV Horror",)


@pytest.mark.django_db
def test_the_form_shows_each_error_keeps_the_input_and_queues_nothing(
    client: Client, pitch_genres: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            "/pitch/", {"title": "See www.example.com", "kind": "movie", "genre": "tv-horror"}
        )

    assert response.status_code == 400
    html = response.content.decode()
    assert "A title cannot be a web address." in html
    assert "TV Horror is not a Movie genre here: pick another." in html
    assert 'value="See www.example.com"' in html
    assert '<option value="tv-horror" selected>' in html
    assert not Pitch.objects.exists() and not queued


@pytest.mark.django_db
def test_unknown_kind_and_genre_are_refused(client: Client, pitch_genres: Any) -> None:
    kind = client.post("/pitch/", {"title": "Fine Title", "kind": "opera"})
    genre = client.post("/pitch/", {"title": "Fine Title", "kind": "tv", "genre": "nope"})

    assert "Pick a film or a TV show." in kind.content.decode()
    assert "Pick a genre from the list, or let the model choose." in genre.content.decode()
    assert not Pitch.objects.exists()


@pytest.mark.django_db
def test_a_real_title_is_refused(client: Client, pitch_genres: Any) -> None:
    from titles.models import TrainingTitle

    real = TrainingTitle.objects.first()
    assert real is not None
    response = client.post("/pitch/", {"title": real.title.upper(), "kind": "movie"})

    assert response.status_code == 400
    assert "That is a real film or show." in response.content.decode()


@pytest.mark.django_db
def test_operators_extend_the_blocklist_from_a_file(
    client: Client, pitch_genres: Any, settings: Any, tmp_path: Path
) -> None:
    extra = tmp_path / "local-terms.txt"
    extra.write_text("# our own\nflumbaster\n", encoding="utf-8")
    settings.PITCH_BLOCKLIST_FILE = str(extra)

    assert blocklist().match("Return of the Flumbaster") == "flumbaster"
    response = client.post("/pitch/", {"title": "Return of the FLUMBASTERS", "kind": "movie"})

    assert response.status_code == 400
    assert "That title uses a word this site does not print." in response.content.decode()
    assert not Pitch.objects.exists()


@pytest.mark.django_db
def test_a_real_title_is_refused_however_it_is_spelt(client: Any, pitch_genres: Any) -> None:
    """One rule for "is a real title": folded as the overfit check folds titles (case, accents,
    punctuation), so "AMÉLIE!" is the real "Amelie"."""
    TrainingTitleFactory.create(title="Amelie of the Quay")

    response = client.post(
        "/pitch/", {"title": "AMÉLIE of the quay!", "kind": "movie", "genre": "dramas"}
    )

    assert "That is a real film or show." in response.content.decode()
    assert not Pitch.objects.exists()
