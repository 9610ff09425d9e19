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

The training index is a per-process cache, rebuilt when the training titles change (count, last
id, last import time); `reset()` empties it. The pool of generated texts is indexed in the
database (models.TextShingle, written with the texts by `GeneratedDescription.objects.store`):
SQL counts the word trigrams each stored text shares with the checked one, leaving out trigrams
found in more than MAX_POSTINGS texts (stock phrases), keeps the top CANDIDATES plus any exact copy
(normal_hash), and a small Detector over those scores them as the full one would. Only the newest
OVERFIT_POOL_INDEX_LIMIT texts keep trigrams; exact copies are found among all. Two workers storing
near-duplicates at the same moment each miss the other's uncommitted text, which
`manage.py scan_overfit` catches later.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Max
from django.utils import timezone

from generator.ml.overfit import CANDIDATES, MAX_POSTINGS, Detector, Document, Thresholds, Verdict
from generator.ml.reading import Facts
from generator.models import GeneratedDescription, TextShingle
from generator.signatures import normal_hash, shingles
from titles.models import TrainingTitle

AUTO_APPROVE = "auto-approve"
PUBLISH_IMMEDIATELY = "immediately"  # PITCH_PUBLISH
REVIEW = "review"
POLICIES = (AUTO_APPROVE, REVIEW)

TRAINING = "training"
POOL = "pool"
BATCH = "batch"

Status = GeneratedDescription.Status
Reason = GeneratedDescription.OverfitReason

_lock = threading.Lock()
NO_MATCH = Verdict(False, 0.0, "", None, "")


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


_training: tuple[tuple[object, ...], Detector, Facts] | None = None


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
    return _training_index()[0]


def get_facts() -> Facts:
    """The training data's titles and people (generator.ml.reading), built with the detector."""
    return _training_index()[1]


def _training_index() -> tuple[Detector, Facts]:
    global _training
    key = tuple(
        TrainingTitle.objects.aggregate(
            count=Count("id"), last=Max("id"), imported=Max("imported_at")
        ).values()
    )
    with _lock:
        if _training is None or _training[0] != key:
            rows = TrainingTitle.objects.order_by("id").values_list(
                "show_id", "title", "description", "cast", "director"
            )
            documents, titles, credits = [], [], []
            for show_id, title, description, cast, director in rows.iterator(chunk_size=2000):
                documents.append(Document(show_id, title, description))
                titles.append(title)
                credits += [cast, director]
            _training = (key, Detector(documents), Facts.from_columns(titles, credits))
        return _training[1], _training[2]


def reset() -> None:
    """Forget the cached training detector; the next check rebuilds it."""
    global _training
    with _lock:
        _training = None


def check_texts(items: Sequence[tuple[str, str]], against_pool: bool = True) -> list[Check]:
    """Check new (text, title) pairs against the training data and, with `against_pool`, the
    stored generated texts and each other (an evaluation stores nothing: training alone).
    """
    limits = thresholds()
    training = get_detector()
    if not against_pool:
        return [Check(training.check(text, title, limits), TRAINING) for text, title in items]
    batch = Detector()
    checks = []
    for position, (text, title) in enumerate(items):
        found = [
            Check(training.check(text, title, limits), TRAINING),
            pool_check(text, limits),
            Check(batch.check(text, "", _without_titles(limits)), BATCH),
        ]
        checks.append(_strongest(found))
        batch.add(Document(str(position), title, text))
    return checks


def check_stored(descriptions: Iterable[GeneratedDescription]) -> list[Check]:
    """Re-check stored texts; each is compared with the generated texts stored before it."""
    limits = thresholds()
    training = get_detector()
    return [
        _strongest(
            [
                Check(training.check(description.text, description.title, limits), TRAINING),
                pool_check(description.text, limits, before=description.pk),
            ]
        )
        for description in descriptions
    ]


def pool_check(text: str, limits: Thresholds, before: int | None = None) -> Check:
    """Score a text against the stored generated texts (those with a lower id than `before`)."""
    candidates = pool_candidates(text, before)
    if not candidates:
        return Check(NO_MATCH, POOL)
    rows = GeneratedDescription.objects.filter(pk__in=candidates).order_by("pk")
    # In id order, as the full in-memory index was built: equal scores resolve the same way.
    detector = Detector(
        Document(str(pk), title, body)
        for pk, title, body in rows.values_list("pk", "title", "text")
    )
    verdict = detector.check(text, "", _without_titles(limits))
    generated_id = int(verdict.nearest.key) if verdict.nearest is not None else None
    return Check(verdict, POOL, generated_id)


def pool_candidates(text: str, before: int | None = None) -> list[int]:
    """Ids of the earliest exact copy, then of the CANDIDATES texts sharing most trigrams."""
    stored = GeneratedDescription.objects.all()
    if before is not None:
        stored = stored.filter(pk__lt=before)
    found: list[int] = []
    digest = normal_hash(text)
    if digest is not None:
        found += stored.filter(normal_hash=digest).order_by("pk").values_list("pk", flat=True)[:1]
    wanted = sorted(shingles(text))
    if not wanted:
        return found
    # Document frequency over the whole index, as the in-memory detector counts postings.
    frequency = (
        TextShingle.objects.filter(shingle__in=wanted)
        .values("shingle")
        .annotate(texts=Count("id"))
        .values_list("shingle", "texts")
    )
    rare = [shingle for shingle, texts in frequency if texts <= MAX_POSTINGS]
    if not rare:
        return found
    shared = TextShingle.objects.filter(shingle__in=rare)
    if before is not None:
        shared = shared.filter(description_id__lt=before)
    ranked = (
        shared.values("description_id")
        .annotate(shared=Count("id"))
        .order_by("-shared", "description_id")
        .values_list("description_id", flat=True)[:CANDIDATES]
    )
    return found + [pk for pk in ranked if pk not in found]


def may_publish(pitched: bool) -> bool:
    """Whether a new text no check doubts goes public without a moderator: pool texts as
    OVERFIT_POLICY says, visitors' pitches as PITCH_PUBLISH says."""
    if pitched:
        return settings.PITCH_PUBLISH == PUBLISH_IMMEDIATELY
    return policy() == AUTO_APPROVE


def status_for(check: Check, pitched: bool = False) -> str:
    """The status a new text gets: held when overfit; public when the check has no doubt about
    it and `may_publish`; else left for a moderator."""
    if check.overfit:
        return Status.OVERFIT
    if may_publish(pitched) and check.verdict.score < settings.OVERFIT_REVIEW_THRESHOLD:
        return Status.APPROVED
    return Status.PENDING


def rechecked_status(current: str, check: Check, pitched: bool = False) -> str:
    """After a re-check: rejections stand, copies are held, released holds follow the rule a
    new text of the same origin follows."""
    if current == Status.REJECTED:
        return current
    if check.overfit:
        return Status.OVERFIT
    if current == Status.OVERFIT:
        return status_for(check, pitched)
    return current


def policy() -> str:
    value = settings.OVERFIT_POLICY
    if value not in POLICIES:
        raise ImproperlyConfigured(f"OVERFIT_POLICY={value!r} is not one of {', '.join(POLICIES)}")
    return value


def fields_for(check: Check, pitched: bool = False) -> dict[str, Any]:
    """The evidence fields and status of a new text, ready for GeneratedDescription(**fields)."""
    return {**evidence_fields(check), "status": status_for(check, pitched)}


def evidence_fields(check: Check) -> dict[str, Any]:
    """The evidence fields alone (the re-check keeps the status logic apart)."""
    verdict = check.verdict
    nearest = verdict.nearest if check.source == TRAINING else None
    return {
        "overfit_score": round(verdict.score, 4),
        "overfit_reason": check.reason,
        "nearest_show_id": nearest.key if nearest is not None else "",
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


def _strongest(checks: Sequence[Check]) -> Check:
    """The first overfit verdict (training before pool before batch), else the highest score."""
    for check in checks:
        if check.overfit:
            return check
    return max(checks, key=lambda check: check.verdict.score)  # max keeps the first of equals
