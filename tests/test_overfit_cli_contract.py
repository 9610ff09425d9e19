"""`python -m generator.ml.overfit`: one JSON verdict per input line; clear errors, no tracebacks.

Run as a real subprocess with no Django settings in the environment: the CLI is plain Python.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import ORIGINALS, TRAINING, text_of
from tests.samples import NETFLIX_HEADER

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"overfit", "score", "nearest_show_id", "nearest", "span"}


def _row(key: str, title: str, description: str) -> list[str]:
    return [key, "Movie", title, "", "", "", "", "2020", "PG", "90 min", "Dramas", description]


@pytest.fixture
def training(tmp_path: Path) -> Path:
    path = tmp_path / "training.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(NETFLIX_HEADER)
        writer.writerows(_row(d.key, d.title, d.text) for d in TRAINING)
    return path


def run_cli(*args: str, stdin: bytes | str = b"") -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "generator.ml.overfit", *args],
        input=data,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def test_it_writes_one_json_object_per_line(training: Path) -> None:
    copy = text_of("f21")
    lines = [copy, ORIGINALS[0], "<|film|>[Movie] [Dramas] Title: Mothballs | " + ORIGINALS[3]]

    result = run_cli("--training", str(training), stdin="\n".join(lines) + "\n")

    assert result.returncode == 0, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(verdicts) == 3
    assert all(set(verdict) == KEYS for verdict in verdicts)
    assert verdicts[0] == {
        "overfit": True,
        "score": 1.0,
        "nearest_show_id": "f21",
        "nearest": copy,
        "span": copy,
    }
    assert verdicts[1]["overfit"] is False
    assert isinstance(verdicts[1]["score"], float) and 0 <= verdicts[1]["score"] < 0.75
    assert isinstance(verdicts[1]["nearest_show_id"], str)
    # A formatted record: its title is checked too, and "Mothballs" is a real title.
    assert verdicts[2]["overfit"] is True
    assert verdicts[2]["nearest_show_id"] == "f18"
    assert verdicts[2]["span"] == "Mothballs"
    assert result.stderr == b""


def test_the_threshold_option_applies(training: Path) -> None:
    text = "a radio host and a hacker race to find out who switched the city off"

    strict = run_cli("--training", str(training), "--threshold", "1.0", stdin=text + "\n")
    default = run_cli("--training", str(training), stdin=text + "\n")

    assert json.loads(default.stdout)["overfit"] is True
    assert json.loads(strict.stdout)["overfit"] is True  # the whole text is one copied run
    loose_text = ORIGINALS[5]
    loose = run_cli("--training", str(training), "--threshold", "0.05", stdin=loose_text + "\n")
    assert json.loads(loose.stdout)["overfit"] is True


def test_a_missing_training_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("--training", str(tmp_path / "nope.csv"), stdin="some text\n")

    assert result.returncode == 2
    assert result.stdout == b""
    assert b"nope.csv: no such file" in result.stderr
    assert b"Traceback" not in result.stderr


def test_wrong_columns_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("name,plot\nA,B\n", encoding="utf-8")

    result = run_cli("--training", str(path), stdin="some text\n")

    assert result.returncode == 2
    assert b"missing columns: show_id" in result.stderr
    assert b"Traceback" not in result.stderr


def test_an_empty_line_is_a_clear_error(training: Path) -> None:
    result = run_cli("--training", str(training), stdin="first text\n\nthird text\n")

    assert result.returncode == 2
    assert result.stdout == b""
    assert b"line 2: the line is empty" in result.stderr
    assert b"Traceback" not in result.stderr


def test_no_input_is_a_clear_error(training: Path) -> None:
    result = run_cli("--training", str(training), stdin=b"")

    assert result.returncode == 2
    assert b"no texts to check" in result.stderr


def test_input_that_is_not_utf8_is_a_clear_error(training: Path) -> None:
    result = run_cli("--training", str(training), stdin=b"caf\xe9 society\n")

    assert result.returncode == 2
    assert b"line 1: not valid UTF-8" in result.stderr
    assert b"Traceback" not in result.stderr


def test_a_bad_threshold_is_a_clear_error(training: Path) -> None:
    result = run_cli("--training", str(training), "--threshold", "2", stdin="text\n")

    assert result.returncode == 2
    assert b"threshold must be in (0, 1]" in result.stderr


def test_a_missing_training_option_is_a_usage_error() -> None:
    result = run_cli(stdin="text\n")

    assert result.returncode == 2
    assert b"--training" in result.stderr
