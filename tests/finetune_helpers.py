"""Shared pieces of the fine-tuning tests: a tiny config, tiny titles, recording callbacks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from generator.ml.config import TrainingConfig
from generator.ml.format import parse_record
from tests.tiny_model import TINY_RECORDS

TINY_CONFIG = TrainingConfig(
    steps=8,
    batch_size=4,
    lr=3e-3,
    warmup=1,
    max_length=64,
    eval_every=4,
    sample_every=4,
    save_every=4,
    num_samples=1,
)


def tiny_config(**changes: Any) -> TrainingConfig:
    return replace(TINY_CONFIG, **changes)


def add_tiny_titles(copies: int = 3) -> int:
    """Training titles in the database made from the tiny model's records; returns how many."""
    from titles.models import Genre, TrainingTitle

    created = 0
    for copy in range(copies):
        for index, text in enumerate(TINY_RECORDS):
            record = parse_record(text)
            title = TrainingTitle.objects.create(
                show_id=f"tiny{copy}-{index}",
                kind=record.kind,
                title=record.title,
                description=record.description,
                source=TrainingTitle.Source.NETFLIX_CSV,
            )
            genres = Genre.objects.get_or_create_many(set(record.genres))
            title.genres.set(genres.values())
            created += 1
    return created


class StepLog(TrainerCallback):
    """Remembers what Trainer reported, to check what a run did."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.evals: list[tuple[int, float]] = []
        self.base_eval: float | None = None
        self.samples: list[tuple[int, list[str]]] = []
        self.checkpoints: list[tuple[int, Path]] = []
        self.learning_rates: list[float] = []

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.steps.append(state.global_step)
            self.losses.append(logs["loss"])
            self.learning_rates.append(logs["learning_rate"])
        if "samples" in logs:
            self.samples.append((state.global_step, logs["samples"]))

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        assert metrics is not None
        if state.global_step == 0:
            self.base_eval = metrics["eval_loss"]
        else:
            self.evals.append((state.global_step, metrics["eval_loss"]))

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        path = Path(str(args.output_dir)) / f"checkpoint-{state.global_step}"
        self.checkpoints.append((state.global_step, path))


class FailAfterStep(TrainerCallback):
    """Raises like a crash would (disk full, CUDA error) in the step after `step`."""

    def __init__(self, step: int, error: BaseException) -> None:
        self.step = step
        self.error = error

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.global_step == self.step:
            raise self.error


def tiny_command_arguments(base: Path, config: TrainingConfig = TINY_CONFIG) -> list[str]:
    """`manage.py finetune` arguments training `base` with `config`'s settings."""
    flags = {
        "--steps": config.steps,
        "--batch-size": config.batch_size,
        "--lr": config.lr,
        "--warmup": config.warmup,
        "--max-length": config.max_length,
        "--eval-every": config.eval_every,
        "--sample-every": config.sample_every,
        "--save-every": config.save_every,
        "--num-samples": config.num_samples,
    }
    return [
        "--base",
        str(base),
        *(part for flag, value in flags.items() for part in (flag, str(value))),
    ]
