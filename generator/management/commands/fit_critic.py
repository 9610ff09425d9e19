"""`manage.py fit_critic`: teach a run's n-gram critic what the site's readers did not believe."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generator.feedback import MIN_LABELS, FeedbackError, fit_critic
from generator.ml.reranking import RerankError
from generator.models import ModelRun
from generator.run_evaluation import EvaluationError


class Command(BaseCommand):
    help = (
        "Refit a run's n-gram critic (GENERATION_CRITIC=ngram) on its texts against real ones, "
        "with moderators' rejections, reports and down-votes as texts readers doubted and "
        "up-voted or approved texts as texts they believed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, help="ModelRun id (default: the active run)")
        parser.add_argument("--min-labels", type=int, default=MIN_LABELS)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        run = ModelRun.objects.given_or_active(options["run"])
        if run is None:
            raise CommandError("no such run (and without --run, no active run)")
        try:
            said = fit_critic(run, options["seed"], options["min_labels"])
        except (FeedbackError, EvaluationError, RerankError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Run #{run.pk}: critic refitted with {len(said.doubted)} doubted and "
            f"{len(said.believed)} believed texts; batches use it with GENERATION_CRITIC=ngram."
        )
