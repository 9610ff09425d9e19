"""The pitch blocklist as configured: the shipped list plus PITCH_BLOCKLIST_FILE's terms.

Torch-free, so the web form and the worker share it (the form rejects a title, the worker a text).
"""

from __future__ import annotations

from functools import cache as once
from pathlib import Path

from django.conf import settings

from generator.ml.pitch_rules import SHIPPED_BLOCKLIST, Blocklist


def blocklist() -> Blocklist:
    """Read once per process and configured path; a missing extra file is an error, not ignored."""
    return _blocklist(str(settings.PITCH_BLOCKLIST_FILE or ""))


@once
def _blocklist(extra: str) -> Blocklist:
    return Blocklist.from_files([SHIPPED_BLOCKLIST, *([Path(extra)] if extra else [])])
