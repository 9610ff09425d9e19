"""The site's settings as a new process reads them: settings.py reads the environment once per
process, so a test that changes it asks a fresh Python."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def settings_process(
    code: str,
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    drop: Collection[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a new process after `django.setup()`, with the settings imported as `s`,
    DATA_DIR set to `data_dir`, and `env` over this process's environment less `drop`."""
    environment = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings as s; {code}",
        ],
        env={
            **environment,
            "DATA_DIR": str(data_dir),
            "PYTHONPATH": f"{ROOT / 'site'}:{ROOT}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        check=check,
    )
