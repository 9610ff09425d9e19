"""`manage.py finetune` turns bad arguments into one clear message and a non-zero exit."""

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from generator.models import ModelRun
from tests.finetune_helpers import add_tiny_titles
from tests.tiny_model import build_tiny_checkpoint

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def titles(db: None, settings: Any, tmp_path: Path) -> None:
    settings.MODEL_DIR = tmp_path / "models"
    add_tiny_titles()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--steps", "-3"], "--steps: must be at least 1, not -3"),
        (["--steps", "0"], "--steps: must be at least 1, not 0"),
        (["--lr", "0"], "--lr: must be above 0, not 0.0"),
        (["--lr", "-0.001"], "--lr: must be above 0, not -0.001"),
        (["--epochs", "0"], "--epochs: must be above 0, not 0.0"),
        (["--steps", "5", "--epochs", "1"], "--steps: give either steps or epochs, not both"),
        (["--batch-size", "0"], "--batch-size: must be at least 1, not 0"),
        (["--grad-accum", "-1"], "--grad-accum: must be at least 1, not -1"),
        (["--max-length", "4"], "--max-length: must be at least 8, not 4"),
        (["--warmup", "-1"], "--warmup: must not be negative, not -1"),
        (["--sample-every", "-5"], "--sample-every: must not be negative, not -5"),
        (["--eval-fraction", "0.7"], "--eval-fraction: must be above 0 and below 0.5, not 0.7"),
        (["--limit", "0"], "--limit must be at least 1, not 0"),
        (["--limit", "1"], "1 training titles in the database: need at least 2"),
        (["--data", "/nonexistent/titles.csv"], "--data: /nonexistent/titles.csv: no such file"),
        (["--base", "/nonexistent/checkpoint"], "'/nonexistent/checkpoint': no such checkpoint"),
        (["--resume", "999"], "--resume 999: there is no fine-tuning run #999"),
        (["--resume", "1", "--lr", "0.1"], "its own settings; drop --lr"),
        (["--patience", "-1"], "--patience: must not be negative, not -1"),
        (["--patience", "2", "--eval-every", "0"], "--patience: needs eval_every above 0"),
        (["--max-minutes", "-1"], "--max-minutes: must not be negative, not -1.0"),
        (["--max-minutes", "nan"], "--max-minutes: must not be negative, not nan"),
        (["--resume", "1", "--trim-vocab", "no"], "its own settings; drop --trim-vocab"),
    ],
)
def test_the_cli_rejects_bad_arguments(titles: None, arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError) as error:
        call_command("finetune", *arguments, verbosity=0)

    assert message in str(error.value)
    assert not ModelRun.objects.exists()


def test_an_uncached_hub_base_is_a_clear_error_offline(
    titles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    with pytest.raises(CommandError, match="not in the local Hugging Face cache"):
        call_command("finetune", "--base", "nobody/not-a-cached-model", verbosity=0)


def test_an_uncached_hub_base_is_a_clear_error_at_once_when_the_hub_is_unreachable(
    titles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:1")
    started = time.monotonic()

    with pytest.raises(CommandError, match="the hub cannot be reached"):
        call_command("finetune", "--base", "nobody/not-a-cached-model", verbosity=0)

    assert time.monotonic() - started < 10
    assert not ModelRun.objects.exists()


def test_resuming_a_finished_run_is_refused(titles: None) -> None:
    run = ModelRun.objects.create(base="tiny", status=ModelRun.Status.DONE)

    with pytest.raises(CommandError, match=f"run #{run.pk} is already done"):
        call_command("finetune", "--resume", str(run.pk), verbosity=0)


def test_no_training_titles_is_a_clear_error(db: None, tmp_path: Path) -> None:
    base = build_tiny_checkpoint(tmp_path / "base")

    with pytest.raises(CommandError, match="0 training titles in the database"):
        call_command("finetune", "--base", str(base), verbosity=0)


def test_the_command_exits_non_zero_without_a_traceback(tmp_path: Path) -> None:
    environment = {**os.environ, "DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}

    result = subprocess.run(
        [sys.executable, "manage.py", "finetune", "--steps", "-1"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "--steps: must be at least 1, not -1" in result.stderr
    assert "Traceback" not in result.stderr
