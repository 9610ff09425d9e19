"""Compose's health check for `beat`: its schedule file was written in the last ten minutes.

    python deploy/beat_healthcheck.py    # exit 0 when fresh, 1 when stale or missing

Beat keeps its schedule in DATA_DIR/celerybeat-schedule (CELERY_BEAT_SCHEDULE_FILENAME; a dbm
file, so perhaps with a suffix) and writes it at start and every few minutes while it sends the
sweeps; a beat that died or hangs leaves it stale. Standard library only, like healthcheck.py.
"""

from __future__ import annotations

import glob
import os
import sys
import time

STALE_AFTER_SECONDS = 600


def main() -> int:
    schedule = os.path.join(os.environ.get("DATA_DIR", "/data"), "celerybeat-schedule")
    written = [os.path.getmtime(path) for path in glob.glob(glob.escape(schedule) + "*")]
    if not written:
        print(f"beat: no schedule file at {schedule}")
        return 1
    age = time.time() - max(written)
    print(f"beat: schedule written {age:.0f} s ago")
    return 0 if age < STALE_AFTER_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
