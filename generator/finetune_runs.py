"""Fine-tuning runs recorded in the database: create, claim, train, record progress, fail cleanly.

The management command and the Celery `train` task both go through `execute_run`, so a run started
from the command line and one started from the admin behave the same way: claimed with a
conditional UPDATE, heartbeat and curves written as it goes, marked done or failed (with its
last checkpoint kept) at the end, and resumable with `--resume` or the admin's resume action.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from generator.ml.bases import DEFAULT_BASE, resolve_base
from generator.ml.config import TrainingConfig
from generator.ml.dataset import TitleRecord, read_titles
from generator.ml.format import format_title_record
from generator.ml.training import (
    TRAINING_STATE,
    StopSignal,
    TrainingHooks,
    TrainingInterrupted,
    TrainingStart,
    train,
)
from generator.models import ModelRun
from titles.models import TrainingTitle

DATABASE_SOURCE = "database"
# Progress rows are written at most this often (plus at every eval, sample and checkpoint).
FLUSH_SECONDS = 5.0
_ERROR_TRACEBACK_LINES = 12

logger = logging.getLogger(__name__)


class RunNotClaimable(RuntimeError):
    """The run is not queued (already running elsewhere, finished, or gone)."""


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


def execute_run(
    run_id: int,
    *,
    hooks: Sequence[TrainingHooks] = (),
    show_progress: bool = True,
    handle_signals: bool = True,
) -> ModelRun:
    """Claim a queued run and train it to the end; the returned run is done or failed.

    Exceptions are recorded on the run (not raised); KeyboardInterrupt and SystemExit are
    recorded and re-raised. SIGTERM and a first Ctrl-C stop after the current step with a
    checkpoint, so the run resumes exactly where it stopped.
    """
    if not ModelRun.objects.claim(run_id):
        raise RunNotClaimable(f"run #{run_id} is not queued")
    run = ModelRun.objects.get(pk=run_id)
    recorder = DatabaseRecorder(run)
    stop = StopSignal()
    signals = _stop_on_signals(stop) if handle_signals else contextlib.nullcontext()
    try:
        with signals:
            _train_run(run, recorder, hooks, stop, show_progress)
    except TrainingInterrupted as exc:
        recorder.flush()
        _mark_failed(run, f"Interrupted ({exc.reason}) after step {exc.step}. {_resume_hint(run)}")
    except Exception as exc:
        recorder.flush()
        logger.exception("fine-tuning run #%s failed", run.pk)
        _mark_failed(run, _describe_error(exc, run))
    except BaseException as exc:
        recorder.flush()
        _mark_failed(run, _describe_error(exc, run))
        raise
    else:
        recorder.flush()
        _mark_done(run)
    run.refresh_from_db()
    return run


def _train_run(
    run: ModelRun,
    recorder: DatabaseRecorder,
    hooks: Sequence[TrainingHooks],
    stop: StopSignal,
    show_progress: bool,
) -> None:
    config = TrainingConfig.from_dict(run.hyperparameters)
    records = training_records(
        run.hyperparameters.get("data", DATABASE_SOURCE), run.hyperparameters.get("limit")
    )
    resume_from = resumable_checkpoint(run)
    recorder.rewind_to(checkpoint_step(resume_from) if resume_from else 0)
    # A resumed run loads its checkpoint; the base is only needed (and resolved) for a fresh start.
    model_source = str(resume_from) if resume_from else resolve_base(run.base, bases_dir())
    _quiet_transformers_progress()
    train(
        model_source,
        records,
        run_dir(run),
        config,
        hooks=[recorder, *hooks],
        resume_from=resume_from,
        stop=stop,
        show_progress=show_progress,
    )


def resumable_checkpoint(run: ModelRun) -> Path | None:
    """The checkpoint a resume continues from (one with optimizer state), or None: start over."""
    if not run.checkpoint_path:
        return None
    path = Path(run.checkpoint_path)
    return path if (path / TRAINING_STATE).is_file() else None


def checkpoint_step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[-1])


def _quiet_transformers_progress() -> None:
    # Our own tqdm bar is the progress; the per-save "Writing model shards" bars are noise.
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def _resume_hint(run: ModelRun) -> str:
    return f"Resume with `manage.py finetune --resume {run.pk}` or the admin's resume action."


def _describe_error(exc: BaseException, run: ModelRun) -> str:
    summary = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    tail = traceback.format_exception(exc)[-_ERROR_TRACEBACK_LINES:]
    return f"{summary}\n{_resume_hint(run)}\n\n{''.join(tail)}"


def _mark_failed(run: ModelRun, error: str) -> None:
    ModelRun.objects.filter(pk=run.pk).update(
        status=ModelRun.Status.FAILED, error=error, finished_at=timezone.now()
    )


def _mark_done(run: ModelRun) -> None:
    ModelRun.objects.filter(pk=run.pk).update(
        status=ModelRun.Status.DONE, error="", finished_at=timezone.now()
    )


@contextlib.contextmanager
def _stop_on_signals(stop: StopSignal) -> Iterator[None]:
    """SIGTERM or a first Ctrl-C ask for a clean stop; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        logger.warning("%s: stopping after this step and saving a checkpoint", name)
        stop.request(name)
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class DatabaseRecorder(TrainingHooks):
    """Writes a run's progress to its row: curves, samples, checkpoint, throughput, heartbeat."""

    def __init__(self, run: ModelRun) -> None:
        self.run = run
        self._last_flush = 0.0
        self._dirty: set[str] = set()

    def rewind_to(self, step: int) -> None:
        """Drop progress past `step`: a resumed run redoes those steps from its checkpoint."""
        run = self.run
        run.step = step
        run.train_loss_curve = [point for point in run.train_loss_curve if point[0] <= step]
        run.eval_loss_curve = [point for point in run.eval_loss_curve if point[0] <= step]
        run.samples = [entry for entry in run.samples if entry["step"] <= step]
        if step == 0:
            run.base_eval_loss = None
        self._save("step", "train_loss_curve", "eval_loss_curve", "samples", "base_eval_loss")

    def on_start(self, start: TrainingStart) -> None:
        self.run.total_steps = start.total_steps
        self.run.device = start.device[:100]
        self.run.train_records = start.train_records
        self.run.eval_records = start.eval_records
        self._save("total_steps", "device", "train_records", "eval_records")

    def on_base_eval(self, loss: float) -> None:
        self.run.base_eval_loss = loss
        self._save("base_eval_loss")

    def on_step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None:
        self.run.step = step
        self.run.train_loss_curve.append([step, round(loss, 4)])
        self.run.tokens_per_second = round(tokens_per_second, 1)
        self._dirty.update({"step", "train_loss_curve", "tokens_per_second"})
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def on_eval(self, step: int, loss: float) -> None:
        logger.info("run #%s step %s: eval loss %.4f", self.run.pk, step, loss)
        self.run.eval_loss_curve.append([step, round(loss, 4)])
        self._save("eval_loss_curve")

    def on_samples(self, step: int, texts: list[str]) -> None:
        self.run.samples.append({"step": step, "texts": texts})
        self._save("samples")

    def on_checkpoint(self, step: int, path: Path) -> None:
        logger.info("run #%s step %s: checkpoint %s", self.run.pk, step, path)
        self.run.checkpoint_path = str(path)
        self._save("checkpoint_path")

    def flush(self) -> None:
        self._save()

    def _save(self, *fields: str) -> None:
        self.run.heartbeat_at = timezone.now()
        update = {*self._dirty, *fields, "heartbeat_at"}
        self.run.save(update_fields=sorted(update))
        self._dirty.clear()
        self._last_flush = time.monotonic()
