import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from generator import moderation, overfit_check
from generator.models import GeneratedDescription

BATCH_SIZE = 500
Status = GeneratedDescription.Status


class Command(BaseCommand):
    help = (
        "Re-check every generated text against the training data and the earlier generated texts "
        "(after the training set or the OVERFIT_* thresholds change). Copies are held; released "
        "holds follow OVERFIT_POLICY; rejected texts and moderators' decisions keep their status "
        "(generator.moderation.recheck, as the admin's re-check)."
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
            .only("pk", "title", "text", "status", "pitched", "moderated_at")[:BATCH_SIZE]
        )
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def _scan(batch: list[GeneratedDescription], dry_run: bool) -> Counter[str]:
    counts: Counter[str] = Counter(checked=len(batch))
    for result in moderation.recheck(batch, dry_run=dry_run):
        counts["overfit"] += result.check.overfit
        counts["moderated"] += result.kept and result.proposed == Status.OVERFIT
        if result.changed or (dry_run and result.wanted):
            counts["held" if result.proposed == Status.OVERFIT else "released"] += 1
    return counts
