"""Moderation of generated texts: a moderator's decisions and the machine's re-checks.

One service for the admin (its actions, row buttons and text pages) and `manage.py scan_overfit`.
A decision that leaves a text public clears its visitors' report count: the moderator overruled
those reports, and web.models.hide_threshold counts them against hiding it again.
Functions write to the database and return what they did; they never queue Celery tasks, and
logging who did what (the admin's LogEntry) is the caller's part.

    decide(descriptions, DECISIONS["approve"], user) -> list[Change]
    recheck(descriptions, dry_run=False) -> list[Recheck]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone

from generator import overfit_check
from generator.models import GeneratedDescription

Status = GeneratedDescription.Status
EVIDENCE_FIELDS = [
    "overfit_score",
    "overfit_reason",
    "nearest_show_id",
    "nearest_generated",
    "copied_span",
    "checked_at",
]


@dataclass(frozen=True)
class Decision:
    name: str
    label: str
    status: str | None  # None: the status stays
    featured: bool | None  # None: featuring stays


DECISIONS = {
    decision.name: decision
    for decision in (
        Decision("approve", "Approve", Status.APPROVED, None),
        Decision("reject", "Reject", Status.REJECTED, False),
        Decision("hold", "Hold as overfit", Status.OVERFIT, False),
        Decision("feature", "Approve and feature", Status.APPROVED, True),
        Decision("unfeature", "Stop featuring", None, False),
    )
}


@dataclass(frozen=True)
class Change:
    """A decision that changed a text: the fields it set, and the text as it was before."""

    description: GeneratedDescription
    updates: dict[str, Any]
    reports_cleared: int = 0  # the visitors' reports the decision overruled

    def describe(self) -> str:
        """ "status Pending review → Approved, featured", for the admin's history."""
        parts = []
        if "status" in self.updates:
            before = self.description.get_status_display()
            parts.append(f"status {before} → {Status(self.updates['status']).label}")
        if "featured" in self.updates:
            parts.append("featured" if self.updates["featured"] else "no longer featured")
        if self.reports_cleared:
            cleared = self.reports_cleared
            parts.append(f"{cleared} report{'s' if cleared != 1 else ''} cleared")
        return ", ".join(parts)


@dataclass(frozen=True)
class Recheck:
    """One text re-checked: the evidence found and what became of its status."""

    description: GeneratedDescription
    check: overfit_check.Check
    before: str  # the status before the re-check
    proposed: str  # the status the check alone would give it
    after: str  # the status it has now (before, when kept or in a dry run)
    kept: bool  # a moderator decided on it, so the proposed change was not made

    @property
    def changed(self) -> bool:
        return self.after != self.before

    @property
    def wanted(self) -> bool:
        """The status change the rule makes (or, in a dry run, would make)."""
        return self.proposed != self.before and not self.kept

    def describe(self) -> str:
        """ "score 1.00 (exact); status Approved → Held: overfit", for the admin's history."""
        reason = f" ({self.check.reason})" if self.check.reason else ""
        note = "status unchanged"
        if self.changed:
            note = f"status {Status(self.before).label} → {Status(self.after).label}"
        elif self.kept:
            note = f"status {Status(self.before).label} kept: a moderator decided it"
        return f"score {self.check.verdict.score:.2f}{reason}; {note}"


def decide(
    descriptions: Sequence[GeneratedDescription],
    decision: Decision,
    user: AbstractBaseUser | AnonymousUser,
) -> list[Change]:
    """Apply a moderator's decision, stamping who and when; returns the texts it changed."""
    now = timezone.now()
    changes = []
    with transaction.atomic():
        # Reports keep arriving after a page was loaded: clear the count the database holds now.
        reported = dict(
            GeneratedDescription.objects.select_for_update()
            .filter(pk__in=[description.pk for description in descriptions])
            .values_list("pk", "report_count")
        )
        for description in descriptions:
            description.report_count = reported.get(description.pk, description.report_count)
            updates: dict[str, Any] = {}
            if decision.status is not None and description.status != decision.status:
                updates["status"] = decision.status
            if decision.featured is not None and description.featured != decision.featured:
                updates["featured"] = decision.featured
            public = updates.get("status", description.status) == Status.APPROVED
            if public and description.report_count:
                updates["report_count"] = 0
            if not updates:
                continue
            GeneratedDescription.objects.filter(pk=description.pk).update(
                **updates, hidden_at=None, moderated_by=user, moderated_at=now
            )
            cleared = description.report_count if "report_count" in updates else 0
            changes.append(Change(description, updates, cleared))
    return changes


def recheck(descriptions: Sequence[GeneratedDescription], dry_run: bool = False) -> list[Recheck]:
    """Re-check texts; evidence is always refreshed, status only where no moderator decided.

    The one rule, for the admin and scan_overfit alike: a human decision is never undone by the
    machine (a moderator changes it with a decision), while rejections stand and, on texts no one
    decided, copies are held and released holds follow the publish rule
    (overfit_check.may_publish). `descriptions` need pk, title, text, status, pitched and
    moderated_at; in a dry run nothing is written. Their status fields are brought up to date in
    memory.
    """
    checks = overfit_check.check_stored(descriptions)
    results = []
    with transaction.atomic():
        for description, check in zip(descriptions, checks, strict=True):
            for name, value in overfit_check.evidence_fields(check).items():
                setattr(description, name, value)
            before = description.status
            proposed = overfit_check.rechecked_status(before, check, description.pitched)
            moderated = description.moderated_at is not None
            after = before
            if proposed != before and not moderated and not dry_run:
                # Conditional: a moderator's decision made meanwhile wins over the machine's.
                updated = GeneratedDescription.objects.filter(
                    pk=description.pk, status=before, moderated_at__isnull=True
                ).update(status=proposed)
                after = proposed if updated else before
            description.status = after
            results.append(
                Recheck(
                    description, check, before, proposed, after, moderated and proposed != before
                )
            )
        if not dry_run:
            GeneratedDescription.objects.bulk_update(descriptions, EVIDENCE_FIELDS)
    return results
