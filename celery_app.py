"""Celery entry point (`celery -A celery_app worker`): puts site/ on sys.path first."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
for path in (str(ROOT), str(ROOT / "site")):
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A worker's stderr becomes WARNING log lines: every progress-bar update (loading weights, an
# evaluation) would be one. The run's own progress is on its admin page.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from config.celery import app  # noqa: E402

__all__ = ["app"]
