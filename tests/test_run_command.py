"""The README's run command: honcho starts the Procfile (gunicorn, two Celery workers, beat) and
stops all of it together."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from deploy.services import free_port
from generator.ml.dataset import NETFLIX_COLUMNS
from tests.samples import SAMPLE_ROWS

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_dev_py_run_serves_the_site_with_workers_and_beat(tmp_path: Path) -> None:
    port = free_port()
    titles = tmp_path / "netflix_titles.csv"
    with titles.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([NETFLIX_COLUMNS, *SAMPLE_ROWS])
    log = tmp_path / "run.log"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "VENV_DIR": sys.prefix,
    }
    with log.open("w") as output:
        run = subprocess.Popen(
            [sys.executable, "dev.py", "run", "--port", str(port), "--titles", str(titles)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = log.read_text()
            if text.count(" ready.") >= 2 and "beat: Starting" in text and "Listening at" in text:
                break
            assert run.poll() is None, text[-3000:]
            time.sleep(0.5)
        else:
            raise AssertionError("workers and beat did not start:\n" + log.read_text()[-3000:])
        health, body = _get(f"http://127.0.0.1:{port}/healthz/")
        home, page = _get(f"http://127.0.0.1:{port}/")
    finally:
        run.send_signal(signal.SIGTERM)
        returncode = run.wait(timeout=60)

    assert health == 200, body
    assert b'"transport": "filesystem"' in body
    assert home == 200
    assert b"This Movie Does Not Exist" in page
    text = log.read_text()
    assert "worker@" in text and "train@" in text
    assert "SIGTERM received" in text
    for process in ("web", "worker", "train-worker", "beat"):
        assert f"{process}.1 stopped" in text, process
    assert returncode == 128 + signal.SIGTERM  # honcho reports the stop it was asked for
    assert (tmp_path / "data" / "db.sqlite3").exists()
    # --titles imported the titles and queued the first fine-tune before the workers started.
    assert "Imported 3 new titles" in text
    assert "Queued fine-tune run #1 on the train queue" in text
    with sqlite3.connect(tmp_path / "data" / "db.sqlite3") as db:
        runs = db.execute("SELECT activate_when_good FROM generator_modelrun").fetchall()
        titles_in = db.execute("SELECT COUNT(*) FROM titles_trainingtitle").fetchone()[0]
    assert runs == [(1,)]
    assert titles_in == 3
