import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from tqdm import tqdm

from generator import overfit_check
from generator.models import GeneratedDescription

BATCH_SIZE = 500
EVIDENCE_FIELDS = [
    "overfit_score",
    "overfit_reason",
    "nearest_show_id",
    "nearest_generated",
    "copied_span",
    "checked_at",
]
Status = GeneratedDescription.Status


class Command(BaseCommand):
    help = (
        "Re-check every generated text against the training data and the earlier generated texts "
        "(after the training set or the OVERFIT_* thresholds change). Copies are held; released "
        "holds follow OVERFIT_POLICY; rejected texts and moderators' decisions keep their status."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change, change nothing"
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        overfit_check.reset()  # the training data may have changed under this process
        total = GeneratedDescription.objects.count()
        if not total:
            self.stdout.write("No generated texts to check.")
            return
        counts: Counter[str] = Counter()
        with tqdm(
            total=total, unit="text", file=sys.stderr, disable=options["verbosity"] == 0
        ) as progress:
            for batch in _batches():
                counts.update(_scan(batch, dry_run))
                progress.update(len(batch))
        self._report(counts, dry_run)

    def _report(self, counts: Counter[str], dry_run: bool) -> None:
        would = "would be " if dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {counts['checked']} texts: {counts['overfit']} score as overfit; "
                f"{counts['held']} {would}newly held, {counts['released']} {would}released."
            )
        )
        if counts["moderated"]:
            self.stdout.write(
                self.style.WARNING(
                    f"{counts['moderated']} texts a moderator approved score as overfit and keep "
                    "their status: review them with the admin's overfit-score filter."
                )
            )


def _batches() -> Iterator[list[GeneratedDescription]]:
    """Every text in id order, BATCH_SIZE at a time, so earlier texts win against duplicates."""
    last = 0
    while True:
        batch = list(
            GeneratedDescription.objects.filter(pk__gt=last)
            .order_by("pk")
            .only("pk", "title", "text", "status", "moderated_at")[:BATCH_SIZE]
        )
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def _scan(batch: list[GeneratedDescription], dry_run: bool) -> Counter[str]:
    counts: Counter[str] = Counter(checked=len(batch))
    checks = overfit_check.check_stored(batch)
    changes: list[tuple[GeneratedDescription, str]] = []
    for description, check in zip(batch, checks, strict=True):
        counts["overfit"] += check.overfit
        for name, value in overfit_check.evidence_fields(check).items():
            setattr(description, name, value)
        status = overfit_check.rechecked_status(description.status, check)
        if status == description.status:
            continue
        if description.moderated_at is not None:
            counts["moderated"] += status == Status.OVERFIT
            continue
        changes.append((description, status))
        counts["held" if status == Status.OVERFIT else "released"] += 1
    if dry_run:
        return counts
    with transaction.atomic():
        GeneratedDescription.objects.bulk_update(batch, EVIDENCE_FIELDS)
        for description, status in changes:
            # Conditional: a moderator's decision made during the scan wins.
            GeneratedDescription.objects.filter(
                pk=description.pk, status=description.status, moderated_at__isnull=True
            ).update(status=status)
    return counts
