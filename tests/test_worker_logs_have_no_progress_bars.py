"""Celery workers (celery_app) turn progress bars off: their stderr becomes WARNING log lines."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import celery_app
from tqdm import tqdm
for _ in tqdm(range(50), desc="loading weights"):
    pass
"""


def test_a_worker_process_writes_no_progress_bar() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert "loading weights" not in done.stderr
    assert "it/s" not in done.stderr


def test_without_it_the_bar_would_be_there() -> None:
    script = "from tqdm import tqdm\nfor _ in tqdm(range(50), desc='loading weights'):\n    pass\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert "loading weights" in done.stderr
