from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generator.ml.dataset import TitleRecord
from tests.samples import SAMPLE_ROWS
from titles.models import Genre, TrainingTitle

pytestmark = pytest.mark.django_db


def _import(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_titles", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _snapshot() -> list[tuple[str, str, str]]:
    return list(
        TrainingTitle.objects.order_by("show_id").values_list("show_id", "title", "description")
    )


def test_it_imports_every_field(netflix_csv: Callable[..., Path]) -> None:
    output = _import(netflix_csv())

    assert "Imported 3 new titles" in output
    title = TrainingTitle.objects.get(show_id="x2")
    assert title.kind == "tv"
    assert title.get_kind_display() == "TV Show"
    assert title.title == "Pickle Street Irregulars"
    assert title.release_year == 2020
    assert title.rating == "TV-14"
    assert title.description.startswith(
        'Four retirees run a detective agency from a pickle shop, "'
    )
    assert sorted(g.name for g in title.genres.all()) == ["British TV Shows", "TV Comedies"]
    assert title.source == TrainingTitle.Source.NETFLIX_CSV
    assert str(TrainingTitle.objects.get(show_id="x3").date_added) == "2015-05-31"
    assert Genre.objects.get(name="Children & Family Movies").slug == "children-and-family-movies"


def test_it_is_idempotent_by_show_id(netflix_csv: Callable[..., Path]) -> None:
    path = netflix_csv()
    _import(path)
    before = _snapshot()

    output = _import(path)

    assert "Nothing new: all 3 titles" in output
    assert _snapshot() == before
    assert Genre.objects.count() == 6


def test_it_adds_only_new_rows(netflix_csv: Callable[..., Path], tmp_path: Path) -> None:
    _import(netflix_csv())
    extra = [
        "x4",
        "Movie",
        "Late Bus",
        "",
        "",
        "",
        "",
        "2001",
        "R",
        "80 min",
        "Thrillers",
        "A night bus driver realises every passenger is the same man.",
    ]
    output = _import(netflix_csv(SAMPLE_ROWS + [extra]))

    assert "Imported 1 new titles" in output
    assert TrainingTitle.objects.count() == 4


def test_replace_reloads_from_the_file(netflix_csv: Callable[..., Path]) -> None:
    _import(netflix_csv())
    changed = [row[:] for row in SAMPLE_ROWS[:2]]
    changed[0][2] = "The Lighthouse Auditor"

    output = _import(netflix_csv(changed), "--replace")

    assert "Replaced 3 titles with 2" in output
    assert TrainingTitle.objects.get(show_id="x1").title == "The Lighthouse Auditor"
    assert not TrainingTitle.objects.filter(show_id="x3").exists()


def test_it_imports_plain_text_one_description_per_line(tmp_path: Path) -> None:
    path = tmp_path / "descriptions.txt"
    path.write_text(
        "A cat becomes mayor.\n\nTwo rival chefs share a kitchen.\nA cat becomes mayor.\n"
    )

    output = _import(path)
    again = _import(path)

    assert "Imported 2 new titles" in output
    assert "Nothing new" in again
    texts = sorted(TrainingTitle.objects.values_list("description", flat=True))
    assert texts == ["A cat becomes mayor.", "Two rival chefs share a kitchen."]
    assert set(TrainingTitle.objects.values_list("source", flat=True)) == {"text"}


def test_it_imports_a_single_column_csv(tmp_path: Path) -> None:
    path = tmp_path / "descriptions.csv"
    path.write_text('description\n"A heist, told backwards."\nA quiet ghost story.\n')

    _import(path)

    texts = sorted(TrainingTitle.objects.values_list("description", flat=True))
    assert texts == ["A heist, told backwards.", "A quiet ghost story."]


BAD_FILES = {
    "empty file": (b"", "the file is empty"),
    "missing columns": (b"show_id,type,title\nx1,Movie,Foo\n", "line 1: missing columns"),
    "wrong encoding": (
        "show_id,type,title,director,cast,country,date_added,release_year,rating,duration,"
        "listed_in,description\nx9,Movie,Caf\u00e9,,,,,2001,R,80 min,Dramas,Ol\u00e9\n".encode(
            "latin-1"
        ),
        "line 2: not valid UTF-8",
    ),
    "truncated quoted field": (
        b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,"
        b"listed_in,description\n"
        b"x9,Movie,Foo,,,,,2001,R,80 min,Dramas,A fine text.\n"
        b'x10,Movie,Bar,,,,,2001,R,80 min,Dramas,"This quote never ends\n',
        "line 3: a quoted field is never closed",
    ),
    "wrong number of fields": (
        b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,"
        b"listed_in,description\nx9,Movie,Foo,,,,2001\n",
        "line 2: expected 12 fields, found 7",
    ),
    "NUL byte": (b"show_id,type\nx\x001,Movie\n", "line 2: contains a NUL byte"),
    "unknown type": (
        b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,"
        b"listed_in,description\nx9,Podcast,Foo,,,,,2001,R,80 min,Dramas,Text.\n",
        "line 2: type must be 'Movie' or 'TV Show'",
    ),
    "empty description": (
        b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,"
        b"listed_in,description\nx9,Movie,Foo,,,,,2001,R,80 min,Dramas,   \n",
        "line 2: the description is empty",
    ),
    "bad year": (
        b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,"
        b"listed_in,description\nx9,Movie,Foo,,,,,soon,R,80 min,Dramas,Text.\n",
        "line 2: release_year must be a year",
    ),
    "repeated show id": (
        b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,"
        b"listed_in,description\nx9,Movie,Foo,,,,,2001,R,80 min,Dramas,Text.\n"
        b"x9,Movie,Bar,,,,,2001,R,80 min,Dramas,Other.\n",
        "line 3: show_id 'x9' already used on line 2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_names_the_line_and_changes_nothing(
    case: str, netflix_csv: Callable[..., Path], tmp_path: Path
) -> None:
    _import(netflix_csv())
    before = _snapshot()
    content, message = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(CommandError) as error:
        _import(path, "--replace")

    assert message in str(error.value)
    assert "Nothing was imported" in str(error.value)
    assert _snapshot() == before


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        _import(tmp_path / "nope.csv")


def test_a_failure_midway_rolls_back_the_whole_import(
    netflix_csv: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from titles.management.commands import import_titles

    _import(netflix_csv())
    before = _snapshot()
    real_insert = import_titles._insert_new

    def insert_then_fail(records: list[TitleRecord], source: str, show_progress: bool) -> int:
        real_insert(records, source, show_progress)
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_titles, "_insert_new", insert_then_fail)
    with pytest.raises(RuntimeError):
        _import(netflix_csv(), "--replace")

    assert _snapshot() == before


@pytest.mark.slow
def test_it_imports_the_whole_kaggle_file(shared_csv: Path) -> None:
    first = _import(shared_csv)
    second = _import(shared_csv)

    assert TrainingTitle.objects.count() == 8507
    assert "Imported 8507 new titles" in first
    assert "Nothing new: all 8507 titles" in second
    assert TrainingTitle.objects.filter(kind="movie").count() == 5914
    assert Genre.objects.count() == 42
