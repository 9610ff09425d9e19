"""Logs: LOG_FORMAT=json writes one JSON object a line; a fine-tune logs its progress at INFO."""

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.logs import JsonFormatter
from generator.finetune_execution import PROGRESS_LOG_EVERY, execute_run
from generator.finetune_runs import create_run
from tests.finetune_helpers import add_tiny_titles, tiny_config
from tests.tiny_model import build_tiny_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def test_a_record_is_one_line_of_json() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord("generator", logging.ERROR, __file__, 1, "a %s", ("b",), None)
        record.exc_info = sys.exc_info()

    entry = json.loads(JsonFormatter().format(record))

    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "generator", "a b")
    assert "ValueError: broken" in entry["exception"] and entry["time"].endswith("+00:00")


def test_the_setting_switches_the_sites_log_format() -> None:
    script = "import django, logging; django.setup(); logging.getLogger('x').warning('hello')"
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "json", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "PYTHONPATH": f"{ROOT / 'site'}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert {"level": "WARNING", "logger": "x", "message": "hello"}.items() <= lines[-1].items()


@pytest.mark.django_db
def test_a_fine_tune_logs_its_progress_at_info(
    settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.MODEL_DIR = tmp_path / "models"
    add_tiny_titles()
    base = build_tiny_checkpoint(tmp_path / "base")
    run = create_run(tiny_config(steps=PROGRESS_LOG_EVERY, save_every=0), base=str(base))

    with caplog.at_level(logging.INFO, logger="generator.finetune_execution"):
        execute_run(run.pk, show_progress=False)

    progress = [r.getMessage() for r in caplog.records if "tokens/s" in r.getMessage()]
    assert progress == [progress[0]] and f"step {PROGRESS_LOG_EVERY} of" in progress[0]
