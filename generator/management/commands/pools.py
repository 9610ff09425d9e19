from typing import Any

from django.core.management.base import BaseCommand

from generator.models import GenerationBatch, rejection_counts
from generator.pools import fresh_count, in_flight, sync_pools


class Command(BaseCommand):
    help = "Show each pool's fresh count, water marks, and its last batch's yield and rejections."

    def handle(self, *args: Any, **options: Any) -> None:
        header = f"{'pool':<34} {'fresh':>6} {'low':>5} {'high':>5} {'coming':>6}  last batch"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for pool in sync_pools():
            last = (
                pool.batches.filter(status=GenerationBatch.Status.DONE)
                .order_by("-finished_at")
                .first()
            )
            self.stdout.write(
                f"{pool.key:<34} {fresh_count(pool):>6} {pool.low_water:>5} {pool.high_water:>5} "
                f"{in_flight(pool):>6}  {_describe(last)}"
            )


def _describe(batch: GenerationBatch | None) -> str:
    if batch is None:
        return "none yet"
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(rejection_counts(batch.rejections).items()))
    return f"#{batch.pk}: {batch.accepted}/{batch.requested} accepted" + (
        f" (rejected: {rejected})" if rejected else ""
    )
