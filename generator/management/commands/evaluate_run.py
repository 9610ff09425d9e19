from collections.abc import Mapping
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generator.models import ModelRun
from generator.quality_gate import FIGURES, before_reranking
from generator.run_evaluation import DEFAULT_SAMPLES, EvaluationError, evaluate_run

MIN_SAMPLES = 20  # fewer and the discriminator and rates say little
MAX_SAMPLES = 20_000


class Command(BaseCommand):
    help = (
        "Sample a finished run with the production settings and measure how real its descriptions "
        "read against real ones it never trained on; stores the figures on the run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run", type=int, help="ModelRun id")
        parser.add_argument(
            "--samples", type=int, default=DEFAULT_SAMPLES, help="texts to sample (default 300)"
        )
        parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")

    def handle(self, *args: Any, **options: Any) -> None:
        run_id, samples, seed = options["run"], options["samples"], options["seed"]
        # Every argument is checked before a model is loaded.
        if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
            raise CommandError(f"--samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}")
        if seed < 0:
            raise CommandError("--seed must be zero or positive")
        try:
            evaluate_run(run_id, samples, seed)  # checks the run before it loads the model
        except EvaluationError as exc:
            raise CommandError(str(exc)) from None
        realism = ModelRun.objects.get(pk=run_id).realism
        self.stdout.write(f"Realism of model run #{run_id} (seed {seed}):")
        for figure, value in table(realism):
            self.stdout.write(f"  {figure:<24} {value}")


def table(realism: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(figure, value) rows of a stored realism dict; "–" where a figure is missing."""
    held_out = realism.get("held_out", {})
    return [
        ("samples", str(realism.get("samples", "–"))),
        (
            "real texts",
            f"{realism.get('real_texts', '–')} (drawn from {held_out.get('eval_split', 0)} "
            f"held out and {held_out.get('beyond_limit', 0)} past the run's limit)",
        ),
        *(
            (
                item.label,
                item.show(realism.get(item.key)) + (f" ({item.bound()})" if item.gated else ""),
            )
            for item in FIGURES
        ),
        *_reranking_rows(realism),
    ]


def _reranking_rows(realism: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the figures above are of, where batches keep only the reranker's most real texts."""
    reranked = before_reranking(realism)
    if reranked is None:
        return [("reranking", "off: figures of every good text")]
    keep_share, before = reranked
    share = f"{keep_share:.0%}"
    rows = [
        ("reranking", f"AUC, distinct-2, length: the {share} of each batch that reads most real"),
        ("texts served", str(realism.get("served_texts", "–"))),
    ]
    for name, label in (
        ("discriminator_auc", "AUC before reranking"),
        ("distinct_2", "distinct-2 before"),
    ):
        value = before.get(name)
        shown = "–" if value is None else (f"{value:.1%}" if "rate" in name else f"{value:.3f}")
        rows.append((label, shown))
    return rows
