"""Fine-tuning runs in the database, the torch-free part: create one, find its data and checkpoint.

The admin (a web process, which must never load torch) imports only this module; training a run
lives in generator.finetune_execution.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from generator.ml.bases import DEFAULT_BASE
from generator.ml.checkpoints import checkpoint_step, is_resumable
from generator.ml.config import TrainingConfig
from generator.ml.dataset import TitleRecord, read_titles
from generator.ml.format import format_title_record
from generator.models import ModelRun
from titles.models import TrainingTitle

DATABASE_SOURCE = "database"


def bases_dir() -> Path:
    return Path(settings.MODEL_DIR) / "bases"


def run_dir(run: ModelRun) -> Path:
    return Path(settings.MODEL_DIR) / "runs" / f"run-{run.pk:05d}"


def create_run(
    config: TrainingConfig,
    base: str = DEFAULT_BASE,
    data: str = DATABASE_SOURCE,
    limit: int | None = None,
) -> ModelRun:
    """A queued run holding everything needed to (re)start it: base, settings and data source."""
    config.validate()
    hyperparameters = {**config.as_dict(), "data": data, "limit": limit}
    return ModelRun.objects.create(base=base, hyperparameters=hyperparameters)


def training_records(data: str, limit: int | None) -> list[str]:
    """Formatted training records from the database or a titles file (DatasetError if bad)."""
    if data == DATABASE_SOURCE:
        titles = TrainingTitle.objects.order_by("id").prefetch_related("genres")
        records = [_title_record(title) for title in titles[:limit]]
    else:
        records = read_titles(data)[:limit]
    return [format_title_record(record) for record in records]


def _title_record(title: TrainingTitle) -> TitleRecord:
    return TitleRecord(
        show_id=title.show_id,
        description=title.description,
        kind=title.kind,
        title=title.title,
        genres=tuple(genre.name for genre in title.genres.all()),
    )


def resumable_checkpoint(run: ModelRun) -> Path | None:
    """The checkpoint a resume continues from (one with Trainer state), or None: start over."""
    if not run.checkpoint_path:
        return None
    path = Path(run.checkpoint_path)
    return path if is_resumable(path) else None


def resume_step(run: ModelRun) -> int:
    """The step a resume of `run` starts after (0: from the beginning)."""
    checkpoint = resumable_checkpoint(run)
    return checkpoint_step(checkpoint) if checkpoint else 0


def resume_hint(run: ModelRun) -> str:
    return f"Resume with `manage.py finetune --resume {run.pk}` or the admin's resume action."
