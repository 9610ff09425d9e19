"""Read training titles: the Kaggle Netflix CSV, a single-column CSV, or plain text (one per line).

Plain Python, no Django: the import command, the fine-tuning loop and the overfit CLI all read
files through `read_titles`, which raises `DatasetError` naming the line of the first bad record.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from generator.ml.text import normalise_space

NETFLIX_COLUMNS = (
    "show_id",
    "type",
    "title",
    "director",
    "cast",
    "country",
    "date_added",
    "release_year",
    "rating",
    "duration",
    "listed_in",
    "description",
)
REQUIRED_COLUMNS = (
    "show_id",
    "type",
    "title",
    "release_year",
    "rating",
    "listed_in",
    "description",
)
SINGLE_COLUMN_HEADERS = {"description", "descriptions", "text", "content"}

MOVIE = "movie"
TV_SHOW = "tv"
KIND_LABELS = {MOVIE: "Movie", TV_SHOW: "TV Show"}
KIND_BY_LABEL = {label.lower(): kind for kind, label in KIND_LABELS.items()}

MAX_IMPORTED_DESCRIPTION_CHARS = 2000
MAX_IMPORTED_TITLE_CHARS = 300


class DatasetError(ValueError):
    """A training file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class TitleRecord:
    show_id: str
    description: str
    kind: str = ""
    title: str = ""
    genres: tuple[str, ...] = ()
    release_year: int | None = None
    rating: str = ""
    director: str = ""
    cast: str = ""
    country: str = ""
    date_added: date | None = None
    duration: str = ""
    line: int = field(default=0, compare=False)


def text_show_id(description: str) -> str:
    """A stable id for a description that came without one, so re-imports stay idempotent."""
    digest = hashlib.sha1(normalise_space(description).lower().encode("utf-8")).hexdigest()
    return f"t{digest[:15]}"


def parse_kind(value: str) -> str | None:
    return KIND_BY_LABEL.get(normalise_space(value).lower())


def parse_genres(listed_in: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for part in listed_in.split(","):
        name = normalise_space(part)
        if name:
            seen.setdefault(name, None)
    return tuple(seen)


def parse_date_added(value: str) -> date | None:
    value = value.strip()
    for pattern in ("%d-%b-%y", "%B %d, %Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def read_titles(path: str | Path) -> list[TitleRecord]:
    """Every record of the file, or DatasetError for the first bad line."""
    path = Path(path)
    text = _decode(path)
    if path.suffix.lower() in (".txt", ".text"):
        return list(_plain_text_records(text))
    return list(_csv_records(text, path))


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from None
    if not raw.strip():
        raise DatasetError(f"{path}: the file is empty")
    if b"\x00" in raw:
        # PostgreSQL text cannot hold NUL; such a file is binary or corrupt anyway.
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise DatasetError(f"{path}, line {line}: contains a NUL byte (is this a text file?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DatasetError(
            f"{path}, line {line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
            f"{column}); save the file as UTF-8 and import it again"
        ) from None


def _plain_text_records(text: str) -> Iterator[TitleRecord]:
    for number, line in enumerate(text.splitlines(), start=1):
        description = normalise_space(line)
        if description:
            yield _text_record(description, number)


def _text_record(description: str, line: int) -> TitleRecord:
    return TitleRecord(show_id=text_show_id(description), description=description, line=line)


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, fields) for every CSV record; a broken quote names its line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "end of data" in str(exc) or "EOF" in str(exc):
                raise DatasetError(
                    f"{path}, line {start}: a quoted field is never closed (truncated file?)"
                ) from None
            raise DatasetError(f"{path}, line {start}: malformed CSV ({exc})") from None
        yield start, row


def _csv_records(text: str, path: Path) -> Iterator[TitleRecord]:
    rows = _csv_rows(text, path)
    header_line, header = next(rows, (0, []))
    columns = [normalise_space(name).lower() for name in header]
    if len(columns) == 1 and "show_id" not in columns:
        if columns[0] not in SINGLE_COLUMN_HEADERS:
            yield from _single_column(header_line, header, path)
        for line, row in rows:
            yield from _single_column(line, row, path)
        return
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise DatasetError(
            f"{path}, line {header_line}: missing columns: {', '.join(missing)} "
            f"(found: {', '.join(columns) or 'nothing'}; expected the Kaggle Netflix CSV header "
            f"{','.join(NETFLIX_COLUMNS)}, or one description per line)"
        )
    index = {name: columns.index(name) for name in NETFLIX_COLUMNS if name in columns}
    first_line_of: dict[str, int] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            raise DatasetError(
                f"{path}, line {line}: expected {len(columns)} fields, found {len(row)}"
            )
        record = _netflix_record(row, index, line, path)
        if record.show_id in first_line_of:
            raise DatasetError(
                f"{path}, line {line}: show_id {record.show_id!r} already used on line "
                f"{first_line_of[record.show_id]}"
            )
        first_line_of[record.show_id] = line
        yield record


def _single_column(line: int, row: list[str], path: Path) -> Iterator[TitleRecord]:
    if len(row) > 1:
        raise DatasetError(f"{path}, line {line}: expected 1 field, found {len(row)}")
    description = normalise_space(row[0]) if row else ""
    if description:
        yield _text_record(_checked_description(description, line, path), line)


def _checked_description(description: str, line: int, path: Path) -> str:
    if not description:
        raise DatasetError(f"{path}, line {line}: the description is empty")
    if len(description) > MAX_IMPORTED_DESCRIPTION_CHARS:
        raise DatasetError(
            f"{path}, line {line}: the description is {len(description)} characters long "
            f"(at most {MAX_IMPORTED_DESCRIPTION_CHARS})"
        )
    return description


def _netflix_record(row: list[str], index: dict[str, int], line: int, path: Path) -> TitleRecord:
    def cell(name: str) -> str:
        return normalise_space(row[index[name]]) if name in index else ""

    show_id = cell("show_id")
    if not show_id or len(show_id) > 32:
        raise DatasetError(f"{path}, line {line}: show_id must be 1 to 32 characters")
    kind = parse_kind(cell("type"))
    if kind is None:
        raise DatasetError(
            f"{path}, line {line}: type must be 'Movie' or 'TV Show', not {cell('type')!r}"
        )
    title = cell("title")
    if not title or len(title) > MAX_IMPORTED_TITLE_CHARS:
        raise DatasetError(
            f"{path}, line {line}: title must be 1 to {MAX_IMPORTED_TITLE_CHARS} characters"
        )
    year_text = cell("release_year")
    release_year = None
    if year_text:
        if not year_text.isdigit() or not 1850 <= int(year_text) <= 2100:
            raise DatasetError(
                f"{path}, line {line}: release_year must be a year, not {year_text!r}"
            )
        release_year = int(year_text)
    return TitleRecord(
        show_id=show_id,
        kind=kind,
        title=title,
        genres=parse_genres(row[index["listed_in"]]),
        release_year=release_year,
        rating=cell("rating")[:20],
        director=cell("director"),
        cast=cell("cast"),
        country=cell("country"),
        date_added=parse_date_added(cell("date_added")),
        duration=cell("duration")[:30],
        description=_checked_description(cell("description"), line, path),
        line=line,
    )
