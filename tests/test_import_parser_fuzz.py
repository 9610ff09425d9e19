"""Property-based: whatever bytes arrive, the parser returns records or a DatasetError."""

import csv
import io
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from generator.ml.dataset import NETFLIX_COLUMNS, DatasetError, TitleRecord, read_titles
from generator.ml.text import normalise_space

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
cells = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


def _parse(content: bytes, suffix: str) -> list[TitleRecord] | DatasetError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(content)
        try:
            return read_titles(path)
        except DatasetError as error:
            assert str(error).startswith(str(path))
            return error


@FUZZ
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".txt", ".tsv"]))
def test_arbitrary_bytes_give_records_or_a_clear_error(content: bytes, suffix: str) -> None:
    _parse(content, suffix)


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=14), max_size=6))
@example(rows=[["x1", "Movie", "T", "", "", "", "", "2001", "R", "", "Dramas", "A text."], []])
def test_netflix_shaped_csv_gives_records_or_an_error_naming_a_line(rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(NETFLIX_COLUMNS)
    writer.writerows(rows)

    result = _parse(buffer.getvalue().encode("utf-8"), ".csv")

    if isinstance(result, DatasetError):
        assert re.search(r", line \d+: ", str(result)), str(result)
    else:
        # Blank rows are skipped; every other row is one record, in order.
        filled = [row for row in rows if any(cell.strip() for cell in row)]
        assert [record.show_id for record in result] == [normalise_space(r[0]) for r in filled]
        for record in result:
            assert record.show_id and record.description and record.kind in ("movie", "tv")


@FUZZ
@given(content=st.binary(min_size=1, max_size=300))
def test_a_truncated_file_never_crashes(content: bytes) -> None:
    header = ",".join(NETFLIX_COLUMNS).encode() + b"\n"
    _parse(header + b'x1,Movie,"' + content, ".csv")
