"""`manage.py bootstrap --titles CSV`: from a titles file to a run training toward a serving site.

`python3 dev.py run --titles CSV` calls it before starting the workers. It imports the titles
(import_titles: idempotent by show_id) and, unless a run is already serving or under way, queues
the default fine-tune on the train queue, flagged activate_when_good: the `evaluate_run` task
activates it once its realism passes the quality gate. A second call queues nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from generator import queueing
from generator.finetune_runs import create_run, resumable_checkpoint
from generator.ml.bases import DEFAULT_BASE
from generator.ml.config import TrainingConfig
from generator.models import ModelRun
from titles.models import TrainingTitle


class Command(BaseCommand):
    help = (
        "Import training titles and, when no run is active, queued or running, queue the default "
        "fine-tune, to be activated when it passes the quality gate. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--titles",
            type=Path,
            required=True,
            metavar="CSV",
            help="the Kaggle Netflix CSV (or one description per line), as for import_titles",
        )

    def handle(self, *args: Any, titles: Path, **options: Any) -> None:
        verbosity = options["verbosity"]
        # A bad file raises CommandError here, before any run exists.
        call_command("import_titles", titles, verbosity=verbosity, stdout=self.stdout)
        if not TrainingTitle.objects.exists():
            raise CommandError("There are no training titles to fine-tune on.")
        ModelRun.objects.fail_stale()
        with transaction.atomic():
            message = self._queue_if_needed()
        self.stdout.write(message)

    def _queue_if_needed(self) -> str:
        active = ModelRun.objects.active()
        if active is not None:
            return f"Run #{active.pk} is the active model: nothing to train."
        under_way = ModelRun.objects.filter(
            status__in=[ModelRun.Status.QUEUED, ModelRun.Status.RUNNING]
        ).first()
        if under_way is not None:
            return f"Run #{under_way.pk} is already {under_way.status}: nothing queued."
        latest = ModelRun.objects.filter(activate_when_good=True).first()
        if latest is not None and latest.status == ModelRun.Status.DONE:
            return (
                f"Run #{latest.pk} finished and waits for its evaluation, or did not pass the "
                "quality gate (the admin's Model runs list says which): nothing queued."
            )
        if (
            latest is not None
            and resumable_checkpoint(latest)
            and ModelRun.objects.requeue(latest.pk)
        ):
            # An interrupted run (Ctrl-C stopped the workers) continues from its checkpoint.
            queueing.finetune_on_commit(latest.pk)
            return self.style.SUCCESS(f"Run #{latest.pk} resumes training from its checkpoint.")
        run = create_run(TrainingConfig(), DEFAULT_BASE)
        run.activate_when_good = True
        run.save(update_fields=["activate_when_good"])
        queueing.finetune_on_commit(run.pk)
        return self.style.SUCCESS(
            f"Queued fine-tune run #{run.pk} on the train queue; it becomes the active model "
            "when it passes the quality gate. The home page shows its progress."
        )
