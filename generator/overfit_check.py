"""The overfit check inside Django: the training detector, the pool of generated texts, the policy.

Hook for the generation pipeline (generator/pipeline.py), before a batch is stored:

    from generator.overfit_check import apply_verdicts
    apply_verdicts(rows)  # rows: list[GeneratedDescription], unsaved, title and text set

sets on every row `status`, `overfit_score`, `overfit_reason`, `nearest_show_id`,
`nearest_generated_id`, `copied_span` and `checked_at`. Each text is checked against the training
titles, against every generated text already stored, and against the earlier rows of the same call.
Overfit texts get Status.OVERFIT ("held: overfit") and are never served; the others follow
settings.OVERFIT_POLICY: "auto-approve" makes texts scoring below OVERFIT_REVIEW_THRESHOLD
APPROVED and leaves the borderline ones PENDING, "review" makes every text PENDING.

The same, one level down:

    get_detector() -> Detector                      # training index, built once per process
    check_texts(items: Sequence[tuple[str, str]]) -> list[Check]   # (text, title) pairs
    stored_fields(text: str, title: str = "") -> dict[str, object]   # the fields to store
    fields_for(check: Check) -> dict[str, object]
    check_stored(descriptions) -> list[Check]       # re-check stored texts (scan, admin)

The training index is rebuilt when the training titles change (count, last id, last import time);
the pool index grows by the texts stored since the last call and is rebuilt when rows were
deleted. Both are per process: two workers storing near-duplicates at the same moment each miss
the other's text, which `manage.py scan_overfit` catches later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Max
from django.utils import timezone

from generator.ml.overfit import Detector, Document, Thresholds, Verdict
from generator.models import GeneratedDescription
from titles.models import TrainingTitle

AUTO_APPROVE = "auto-approve"
REVIEW = "review"
POLICIES = (AUTO_APPROVE, REVIEW)

TRAINING = "training"
POOL = "pool"
BATCH = "batch"

Status = GeneratedDescription.Status
Reason = GeneratedDescription.OverfitReason

_lock = threading.RLock()


@dataclass(frozen=True)
class Check:
    verdict: Verdict  # the strongest evidence found, from the training data or the pool
    source: str  # TRAINING, POOL (a stored generated text) or BATCH (an earlier item of the call)
    generated_id: int | None = None  # the stored generated text it is nearest to (POOL)

    @property
    def overfit(self) -> bool:
        return self.verdict.overfit

    @property
    def reason(self) -> str:
        if self.overfit and self.source != TRAINING:
            return Reason.DUPLICATE
        return self.verdict.reason


@dataclass
class _PoolIndex:
    detector: Detector
    count: int  # rows with id <= last_id when last synced
    last_id: int
    last_created: datetime | None


_training: tuple[tuple[object, ...], Detector] | None = None
_pool: _PoolIndex | None = None


def thresholds() -> Thresholds:
    """The detector thresholds from settings (OVERFIT_*)."""
    try:
        return Thresholds(
            threshold=settings.OVERFIT_THRESHOLD,
            min_run_words=settings.OVERFIT_MIN_RUN_WORDS,
            long_run_words=settings.OVERFIT_LONG_RUN_WORDS,
            check_titles=settings.OVERFIT_CHECK_TITLES,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"OVERFIT_* settings: {exc}") from None


def get_detector() -> Detector:
    """The training-data detector, built lazily and rebuilt when the training titles change."""
    global _training
    key = tuple(
        TrainingTitle.objects.aggregate(
            count=Count("id"), last=Max("id"), imported=Max("imported_at")
        ).values()
    )
    with _lock:
        if _training is None or _training[0] != key:
            rows = TrainingTitle.objects.order_by("id").values_list(
                "show_id", "title", "description"
            )
            _training = (key, Detector(Document(*row) for row in rows.iterator(chunk_size=2000)))
        return _training[1]


def reset() -> None:
    """Forget both indexes; the next check rebuilds them."""
    global _training, _pool
    with _lock:
        _training = None
        _pool = None


def check_texts(items: Sequence[tuple[str, str]]) -> list[Check]:
    """Check new (text, title) pairs against the training data, the pool and each other."""
    limits = thresholds()
    training = get_detector()
    batch = Detector()
    checks = []
    with _lock:
        pool = _synced_pool()
        for position, (text, title) in enumerate(items):
            found = [
                Check(training.check(text, title, limits), TRAINING),
                _pool_check(pool, text, limits, None),
                Check(batch.check(text, "", _without_titles(limits)), BATCH),
            ]
            checks.append(_strongest(found))
            batch.add(Document(str(position), title, text))
    return checks


def check_stored(descriptions: Iterable[GeneratedDescription]) -> list[Check]:
    """Re-check stored texts; each is compared with the generated texts stored before it."""
    limits = thresholds()
    training = get_detector()
    checks = []
    with _lock:
        pool = _synced_pool()
        for description in descriptions:
            earlier = _stored_before(description.pk)
            found = [
                Check(training.check(description.text, description.title, limits), TRAINING),
                _pool_check(pool, description.text, limits, earlier),
            ]
            checks.append(_strongest(found))
    return checks


def status_for(check: Check) -> str:
    """The status a new text gets: held when overfit, else as OVERFIT_POLICY says."""
    if check.overfit:
        return Status.OVERFIT
    if policy() == AUTO_APPROVE and check.verdict.score < settings.OVERFIT_REVIEW_THRESHOLD:
        return Status.APPROVED
    return Status.PENDING


def rechecked_status(current: str, check: Check) -> str:
    """After a re-check: rejections stand, copies are held, released holds follow the policy."""
    if current == Status.REJECTED:
        return current
    if check.overfit:
        return Status.OVERFIT
    if current == Status.OVERFIT:
        return status_for(check)
    return current


def policy() -> str:
    value = settings.OVERFIT_POLICY
    if value not in POLICIES:
        raise ImproperlyConfigured(f"OVERFIT_POLICY={value!r} is not one of {', '.join(POLICIES)}")
    return value


def fields_for(check: Check) -> dict[str, Any]:
    """The evidence fields and status of a new text, ready for GeneratedDescription(**fields)."""
    return {**evidence_fields(check), "status": status_for(check)}


def evidence_fields(check: Check) -> dict[str, Any]:
    """The evidence fields alone (the re-check keeps the status logic apart)."""
    verdict = check.verdict
    from_training = check.source == TRAINING and verdict.nearest is not None
    return {
        "overfit_score": round(verdict.score, 4),
        "overfit_reason": check.reason,
        "nearest_show_id": verdict.nearest.key if from_training else "",
        "nearest_generated_id": check.generated_id,
        "copied_span": verdict.span,
        "checked_at": timezone.now(),
    }


def stored_fields(text: str, title: str = "") -> dict[str, Any]:
    """The fields to store for one new text (status, overfit_score, nearest_show_id, ...)."""
    return fields_for(check_texts([(text, title)])[0])


def apply_verdicts(rows: Sequence[GeneratedDescription]) -> None:
    """Check a batch of unsaved rows and set their status and evidence fields in place."""
    for row, check in zip(rows, check_texts([(row.text, row.title) for row in rows]), strict=True):
        for name, value in fields_for(check).items():
            setattr(row, name, value)


def _without_titles(limits: Thresholds) -> Thresholds:
    # Two generated texts may share a title; only training titles are off limits.
    return Thresholds(limits.threshold, limits.min_run_words, limits.long_run_words, False)


def _pool_check(
    pool: Detector, text: str, limits: Thresholds, allow: Callable[[Document], bool] | None
) -> Check:
    verdict = pool.check(text, "", _without_titles(limits), allow)
    generated_id = int(verdict.nearest.key) if verdict.nearest is not None else None
    return Check(verdict, POOL, generated_id)


def _strongest(checks: Sequence[Check]) -> Check:
    """The first overfit verdict (training before pool before batch), else the highest score."""
    for check in checks:
        if check.overfit:
            return check
    return max(checks, key=lambda check: check.verdict.score)  # max keeps the first of equals


def _stored_before(pk: int) -> Callable[[Document], bool]:
    return lambda document: int(document.key) < pk


def _synced_pool() -> Detector:
    """The pool index, with the texts stored since the last call added (caller holds _lock)."""
    global _pool
    if _pool is None or not _pool_unchanged(_pool):
        _pool = _PoolIndex(Detector(), 0, 0, None)
    rows = (
        GeneratedDescription.objects.filter(pk__gt=_pool.last_id)
        .order_by("pk")
        .values_list("pk", "title", "text", "created_at")
    )
    for pk, title, text, created_at in rows.iterator(chunk_size=2000):
        _pool.detector.add(Document(str(pk), title, text))
        _pool.count += 1
        _pool.last_id = pk
        _pool.last_created = max(filter(None, (_pool.last_created, created_at)), default=None)
    return _pool.detector


def _pool_unchanged(pool: _PoolIndex) -> bool:
    # Rows deleted (or ids reused after a rollback) make the index stale: rebuild it.
    seen = GeneratedDescription.objects.filter(pk__lte=pool.last_id).aggregate(
        count=Count("id"), last_created=Max("created_at")
    )
    return seen["count"] == pool.count and seen["last_created"] == pool.last_created
