"""Views counted off the request path: each process tallies the texts it served and writes the
tally in bulk.

A page view only adds to this process's tally. A timer thread writes it at most every
SERVE_FLUSH_INTERVAL seconds (GeneratedDescriptionQuerySet.count_serves: one UPDATE per distinct
count) and then nudges the pool top-up once, so `/` costs reads only. A process that exits
cleanly writes its tally first; one that is killed loses at most an interval's views, which only
makes those texts look a little fresher. A failed write keeps the tally for the next try.
SERVE_FLUSH_INTERVAL=0 writes in the request instead.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import Counter
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from generator import queueing
from generator.models import GeneratedDescription

log = logging.getLogger(__name__)


class ServeTally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[int] = Counter()
        self._since: datetime | None = None
        self._timer: threading.Timer | None = None

    def add(self, pk: int) -> None:
        """Count one view of text `pk`."""
        interval = float(settings.SERVE_FLUSH_INTERVAL)
        if interval <= 0:
            GeneratedDescription.objects.count_serves({pk: 1}, timezone.now())
            queueing.nudge_top_up()
            return
        with self._lock:
            if not self._counts:
                self._since = timezone.now()
            self._counts[pk] += 1
            self._schedule(interval)

    def pending(self) -> int:
        """Views counted here and not yet written."""
        with self._lock:
            return sum(self._counts.values())

    def flush(self) -> int:
        """Write the tally now; the number of views written (0 when the write failed)."""
        with self._lock:
            counts, since = self._counts, self._since
            self._counts, self._since = Counter(), None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if not counts or since is None:
            return 0
        try:
            GeneratedDescription.objects.count_serves(counts, since)
        except DatabaseError:
            log.warning("%d views not written; kept for a retry", counts.total(), exc_info=True)
            self._keep(counts, since)
            return 0
        queueing.nudge_top_up()
        return counts.total()

    def _keep(self, counts: Counter[int], since: datetime) -> None:
        with self._lock:
            self._counts.update(counts)
            self._since = min(since, self._since or since)
            self._schedule(max(float(settings.SERVE_FLUSH_INTERVAL), 1.0))

    def _schedule(self, interval: float) -> None:
        """Start the timer unless one is waiting (hold the lock)."""
        if self._timer is None:
            self._timer = threading.Timer(interval, self._flush_from_timer)
            self._timer.daemon = True
            self._timer.start()

    def _flush_from_timer(self) -> None:
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - a timer thread has no one to raise to
            log.exception("writing the view tally failed")
        finally:
            connections.close_all()  # this thread's own connections

    def _forget(self) -> None:
        """In a forked child: the parent's tally and timer are not this process's."""
        self._lock = threading.Lock()
        self._counts, self._since, self._timer = Counter(), None, None


def _flush_at_exit() -> None:
    try:
        tally.flush()
    except Exception:  # noqa: BLE001 - at exit there is no one left to tell but the log
        log.warning("views not written at exit", exc_info=True)


tally = ServeTally()
atexit.register(_flush_at_exit)
os.register_at_fork(after_in_child=tally._forget)
