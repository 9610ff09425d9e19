"""manage.py blind_reading: a shuffled list for the reader, a key kept apart, fresh items each
time, and the reader's answers scored (share flagged, AUC, mean quality)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generator.models import GeneratedDescription, ModelRun
from tests.factories import (
    GeneratedDescriptionFactory,
    ModelRunFactory,
    TrainingTitleFactory,
    invented_text,
)
from titles.models import Kind

pytestmark = pytest.mark.django_db


@pytest.fixture
def run() -> ModelRun:
    """A run trained on 20 invented titles (4 held out, 10 more past its limit), with 12 served
    texts and one pitched text (pitches are not what the pools serve)."""
    for number in range(30):
        kind = (Kind.MOVIE, Kind.TV_SHOW)[number % 2]
        TrainingTitleFactory.create(kind=kind, description=invented_text(number, "real"))
    trained = ModelRunFactory.create(
        hyperparameters={
            "seed": 3,
            "eval_fraction": 0.2,
            "max_eval_records": 200,
            "data": "database",
            "limit": 20,
        }
    )
    for number in range(12):
        GeneratedDescriptionFactory.create(model_run=trained, text=invented_text(number, "served"))
    GeneratedDescriptionFactory.create(model_run=trained, pitched=True, text="A pitched text.")
    return trained


def _prepare(run: ModelRun, tmp_path: Path, name: str, served: int, real: int, *flags: str) -> str:
    listing = tmp_path / f"{name}.txt"
    call_command(
        "blind_reading",
        "prepare",
        name,
        f"--run={run.pk}",
        f"--served={served}",
        f"--real={real}",
        f"--list={listing}",
        f"--readings={tmp_path / 'readings'}",
        *flags,
        stdout=io.StringIO(),
    )
    return listing.read_text()


def _key(tmp_path: Path, name: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = json.loads(
        (tmp_path / "readings" / name / "key.json").read_text()
    )["items"]
    return items


def test_the_reader_sees_a_numbered_list_and_the_key_holds_no_real_text(
    run: ModelRun, tmp_path: Path
) -> None:
    listing = _prepare(run, tmp_path, "first", served=5, real=4)

    numbered = re.findall(r"^(\d+)\. \[(Movie|TV Show)\] ", listing, re.MULTILINE)
    assert [int(number) for number, _kind in numbered] == list(range(1, 10))
    assert "served" not in listing.lower().replace("invented served", "")
    key = _key(tmp_path, "first")
    sources = [str(item["source"]) for item in key]
    assert sorted(sources) == ["real"] * 4 + ["served"] * 5
    assert sources != sorted(sources)  # shuffled, not served-then-real
    for item in key:
        if item["source"] == "real":
            assert item["text"] == item["title"] == ""
            assert str(item["show_id"]).startswith("s-test-")
        else:
            assert "served number" in str(item["text"])
            assert str(item["text"]) in listing
    assert "A pitched text." not in listing
    assert listing.count("Invented Training Title") == 4  # real titles: the reader's list only


def test_a_second_reading_gets_fresh_items_and_says_when_none_are_left(
    run: ModelRun, tmp_path: Path
) -> None:
    _prepare(run, tmp_path, "first", served=6, real=7)
    _prepare(run, tmp_path, "second", served=6, real=7)

    first, second = _key(tmp_path, "first"), _key(tmp_path, "second")
    ids = [
        {str(item["description_id"] or item["show_id"]) for item in key} for key in (first, second)
    ]
    assert not ids[0] & ids[1]
    with pytest.raises(CommandError, match="served texts no reading used, not 1"):
        _prepare(run, tmp_path, "third", served=1, real=1)


def test_a_reading_kept_from_another_database_holds_back_its_texts_not_its_ids(
    run: ModelRun, tmp_path: Path
) -> None:
    ours = list(GeneratedDescription.objects.filter(pitched=False).order_by("pk"))
    elsewhere = tmp_path / "readings" / "elsewhere"
    elsewhere.mkdir(parents=True)
    items = [  # its ids are ours, its texts are not; its second text is one of ours
        {
            "number": 1,
            "source": "served",
            "kind": "movie",
            "title": "T",
            "text": "Not ours.",
            "description_id": ours[0].pk,
            "show_id": "",
        },
        {
            "number": 2,
            "source": "served",
            "kind": "movie",
            "title": "T",
            "text": ours[5].text,
            "description_id": 999,
            "show_id": "",
        },
    ]
    (elsewhere / "key.json").write_text(json.dumps({"run": 1, "seed": 0, "items": items}))

    listing = _prepare(run, tmp_path, "here", served=11, real=2)

    assert ours[0].text in listing and ours[5].text not in listing
    with pytest.raises(CommandError, match="0 served texts no reading used, not 1"):
        _prepare(run, tmp_path, "again", served=1, real=1)


def test_a_reading_of_pitches_reads_what_was_written_for_visitors_titles(
    run: ModelRun, tmp_path: Path
) -> None:
    rejected = GeneratedDescriptionFactory.create(
        model_run=run,
        pitched=True,
        text="A rejected pitched text.",
        status=GeneratedDescription.Status.REJECTED,
    )

    listing = _prepare(run, tmp_path, "pitches", 1, 3, "--pitched")

    assert "A pitched text." in listing and "served number" not in listing
    assert rejected.text not in listing
    key = json.loads((tmp_path / "readings" / "pitches" / "key.json").read_text())
    assert key["pitched"] is True
    with pytest.raises(CommandError, match="0 pitched texts no reading used, not 1"):
        _prepare(run, tmp_path, "more-pitches", 1, 3, "--pitched")


def test_answers_are_scored_against_the_key(run: ModelRun, tmp_path: Path) -> None:
    _prepare(run, tmp_path, "first", served=4, real=4)
    key = _key(tmp_path, "first")
    # The reader flags three served texts and one real one; one served text fools them.
    answers = ["item,p,q"]
    served_seen = 0
    for item in key:
        if item["source"] == "served":
            served_seen += 1
            answers.append(f"{item['number']},{0.9 if served_seen < 4 else 0.1},2")
        else:
            real_p = 0.6 if not any(line.endswith(",0.6,5") for line in answers) else 0.2
            answers.append(f"{item['number']},{real_p},5")
    path = tmp_path / "answers.csv"
    path.write_text("\n".join(answers) + "\n")

    call_command(
        "blind_reading",
        "score",
        "first",
        str(path),
        f"--readings={tmp_path / 'readings'}",
        stdout=io.StringIO(),
    )

    scored = json.loads((tmp_path / "readings" / "first" / "score.json").read_text())
    assert scored["served_flagged"] == 0.75 and scored["real_flagged"] == 0.25
    # 3 flagged served texts beat all 4 real ones; the fooling one beats none: 12 of 16 pairs.
    assert scored["auc"] == 12 / 16
    assert scored["served_quality"] == 2 and scored["real_quality"] == 5
    assert (tmp_path / "readings" / "first" / "answers.csv").read_text().count("\n") == 9


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ("1,0.5,3\n", "no answer for item"),
        ("1,0.5,3\n1,0.4,3\n", "item 1 is answered twice"),
        ("99,0.5,3\n", "there is no item 99"),
        ("1,1.5,3\n", "p must be between 0 and 1"),
        ("1,0.5,7\n", "q must be between 1 and 5"),
        ("1;0.5;3\n", "expected item,p,q"),
    ],
)
def test_answers_that_do_not_fit_the_key_are_refused_and_nothing_is_written(
    run: ModelRun, tmp_path: Path, answers: str, message: str
) -> None:
    _prepare(run, tmp_path, "first", served=2, real=2)
    path = tmp_path / "answers.csv"
    path.write_text(answers)

    with pytest.raises(CommandError, match=message):
        call_command(
            "blind_reading", "score", "first", str(path), f"--readings={tmp_path / 'readings'}"
        )
    assert not (tmp_path / "readings" / "first" / "score.json").exists()
