"""Training a fine-tuning run recorded in the database: claim, train, record progress, fail cleanly.

The management command and the Celery `finetune` task both go through `execute_run`, so a run
started from the command line and one started from the admin behave the same way: claimed with a
conditional UPDATE, heartbeat, curves and samples written as it goes by a TrainerCallback, marked
done or failed (with its last checkpoint kept) at the end, and resumable with `--resume` or the
admin's resume action. Under torchrun only rank 0 claims the run and writes its row; the other
ranks read its settings and train their share.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from django.utils import timezone
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from generator.finetune_runs import (
    DATABASE_SOURCE,
    bases_dir,
    resumable_checkpoint,
    resume_hint,
    resume_step,
    run_dir,
    training_records,
)
from generator.ml.bases import resolve_base
from generator.ml.checkpoints import CHECKPOINT_PREFIX, discard_checkpoints
from generator.ml.config import TrainingConfig
from generator.ml.training import (
    FineTune,
    StopSignal,
    TrainingInterrupted,
    TrainingResult,
    TrainingStart,
)
from generator.models import ModelRun

# Training steps between two progress lines in the log (workers show no progress bar).
PROGRESS_LOG_EVERY = 25
# Progress rows are written at most this often (plus at every eval, sample and checkpoint).
FLUSH_SECONDS = 5.0
_ERROR_TRACEBACK_LINES = 12

logger = logging.getLogger(__name__)


class RunNotClaimable(RuntimeError):
    """The run is not queued (already running elsewhere, finished, or gone)."""


def is_main_process() -> bool:
    """Rank 0 under torchrun / accelerate launch, or the only process otherwise."""
    return int(os.environ.get("RANK", "0")) == 0


def execute_run(
    run_id: int,
    *,
    callbacks: Sequence[TrainerCallback] = (),
    show_progress: bool = True,
    handle_signals: bool = True,
) -> ModelRun:
    """Claim a queued run and train it to the end; the returned run is done or failed.

    Exceptions are recorded on the run (not raised); KeyboardInterrupt and SystemExit are
    recorded and re-raised. SIGTERM and a first Ctrl-C stop after the current step with a
    checkpoint, so the run resumes exactly where it stopped. On a rank other than 0 the run is
    trained but neither claimed nor written.
    """
    if not is_main_process():
        return _train_replica(run_id, callbacks, handle_signals)
    if not ModelRun.objects.claim(run_id):
        raise RunNotClaimable(f"run #{run_id} is not queued")
    run = ModelRun.objects.get(pk=run_id)
    recorder = DatabaseRecorder(run)
    stop = StopSignal()
    signals = _stop_on_signals(stop) if handle_signals else contextlib.nullcontext()
    try:
        with signals:
            recorder.rewind_to(resume_step(run))
            fine_tune = _fine_tune(run, [recorder, *callbacks], stop, show_progress)
            recorder.record_start(fine_tune.start)
            result = fine_tune.run()
    except TrainingInterrupted as exc:
        recorder.flush()
        _mark_failed(run, f"Interrupted ({exc.reason}) after step {exc.step}. {resume_hint(run)}")
    except Exception as exc:
        recorder.flush()
        logger.exception("fine-tuning run #%s failed", run.pk)
        _mark_failed(run, _describe_error(exc, run))
    except BaseException as exc:
        recorder.flush()
        _mark_failed(run, _describe_error(exc, run))
        raise
    else:
        recorder.record_result(result)
        _mark_done(run)
        discard_checkpoints(result.checkpoint.parent)
    run.refresh_from_db()
    return run


def _train_replica(
    run_id: int, callbacks: Sequence[TrainerCallback], handle_signals: bool
) -> ModelRun:
    run = ModelRun.objects.get(pk=run_id)
    stop = StopSignal()
    signals = _stop_on_signals(stop) if handle_signals else contextlib.nullcontext()
    # Rank 0 records the interruption; this rank only has to stop at the same step.
    with signals, contextlib.suppress(TrainingInterrupted):
        _fine_tune(run, callbacks, stop, show_progress=False).run()
    return run


def _fine_tune(
    run: ModelRun, callbacks: Sequence[TrainerCallback], stop: StopSignal, show_progress: bool
) -> FineTune:
    config = TrainingConfig.from_dict(run.hyperparameters)
    records = training_records(
        run.hyperparameters.get("data", DATABASE_SOURCE), run.hyperparameters.get("limit")
    )
    resume_from = resumable_checkpoint(run)
    # A resumed run loads its checkpoint; the base is only needed (and resolved) for a fresh start.
    model_source = str(resume_from) if resume_from else resolve_base(run.base, bases_dir())
    _quiet_transformers_progress()
    return FineTune(
        model_source,
        records,
        run_dir(run),
        config,
        callbacks=callbacks,
        resume_from=resume_from,
        stop=stop,
        show_progress=show_progress,
    )


def _quiet_transformers_progress() -> None:
    # Trainer's bar is the progress; the per-save "Writing model shards" bars are noise.
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def _describe_error(exc: BaseException, run: ModelRun) -> str:
    summary = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    tail = traceback.format_exception(exc)[-_ERROR_TRACEBACK_LINES:]
    return f"{summary}\n{resume_hint(run)}\n\n{''.join(tail)}"


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


class DatabaseRecorder(TrainerCallback):
    """Writes a run's progress to its row: curves, samples, checkpoint, throughput, heartbeat.

    Only the main process writes (under DDP every rank runs the callbacks).
    """

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

    def record_start(self, start: TrainingStart) -> None:
        self.run.total_steps = start.total_steps
        self.run.device = start.device[:100]
        self.run.train_records = start.train_records
        self.run.eval_records = start.eval_records
        fields = ["total_steps", "device", "train_records", "eval_records"]
        if start.vocabulary is not None:
            vocabulary = start.vocabulary
            self.run.hyperparameters["vocabulary"] = (
                f"trimmed from {vocabulary.old_size:,} to {vocabulary.new_size:,} tokens"
            )
            fields.append("hyperparameters")
        self._save(*fields)

    def record_result(self, result: TrainingResult) -> None:
        self.run.step = result.step
        self.run.checkpoint_path = str(result.checkpoint)
        self.run.tokens_per_second = round(result.tokens_per_second, 1)
        self.run.stop_reason = result.stop_reason
        self.run.best_step = result.best_step
        self.run.best_eval_loss = result.eval_loss
        if result.stop_reason:
            logger.info("run #%s: %s", self.run.pk, result.stop_reason)
        fields = ("step", "checkpoint_path", "tokens_per_second", "stop_reason", "best_step")
        self._save(*fields, "best_eval_loss")

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or logs is None:
            return
        step = state.global_step
        if "samples" in logs:
            self.run.samples.append({"step": step, "texts": list(logs["samples"])})
            self._save("samples")
        if "loss" in logs:
            self.run.step = step
            self.run.train_loss_curve.append([step, round(float(logs["loss"]), 4)])
            self.run.tokens_per_second = round(float(logs.get("tokens_per_second", 0.0)), 1)
            self._dirty.update({"step", "train_loss_curve", "tokens_per_second"})
            if step % PROGRESS_LOG_EVERY == 0:
                # A worker's log has no progress bar: a line now and then says where the run is.
                logger.info(
                    "run #%s: step %s of %s, loss %.4f, %.0f tokens/s",
                    self.run.pk,
                    step,
                    state.max_steps,
                    float(logs["loss"]),
                    self.run.tokens_per_second,
                )
            if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
                self.flush()

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or metrics is None:
            return
        loss = float(metrics["eval_loss"])
        if state.global_step == 0:  # FineTune measures the base model before the first step
            self.run.base_eval_loss = loss
            self._save("base_eval_loss")
            return
        logger.info("run #%s step %s: eval loss %.4f", self.run.pk, state.global_step, loss)
        self.run.eval_loss_curve.append([state.global_step, round(loss, 4)])
        self._save("eval_loss_curve")

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        path = Path(str(args.output_dir)) / f"{CHECKPOINT_PREFIX}{state.global_step}"
        logger.info("run #%s step %s: checkpoint %s", self.run.pk, state.global_step, path)
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
