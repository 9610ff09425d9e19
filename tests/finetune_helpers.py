"""Shared pieces of the fine-tuning tests: a tiny config, tiny training titles, recording hooks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from generator.ml.config import TrainingConfig
from generator.ml.format import parse_record
from generator.ml.training import TrainingHooks
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


def tiny_cli_options(**changes: Any) -> list[str]:
    """`manage.py finetune` options for a tiny run (the base is given separately)."""
    options = {
        "steps": 8,
        "batch-size": 4,
        "lr": 3e-3,
        "warmup": 1,
        "max-length": 64,
        "eval-every": 4,
        "sample-every": 4,
        "save-every": 4,
        "num-samples": 1,
        **changes,
    }
    return [part for name, value in options.items() for part in (f"--{name}", str(value))]


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


class StepLog(TrainingHooks):
    """Remembers what the loop reported, to check what a run did."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.evals: list[tuple[int, float]] = []
        self.base_eval: float | None = None
        self.samples: list[tuple[int, list[str]]] = []
        self.checkpoints: list[tuple[int, Path]] = []

    def on_base_eval(self, loss: float) -> None:
        self.base_eval = loss

    def on_step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None:
        self.steps.append(step)
        self.losses.append(loss)

    def on_eval(self, step: int, loss: float) -> None:
        self.evals.append((step, loss))

    def on_samples(self, step: int, texts: list[str]) -> None:
        self.samples.append((step, texts))

    def on_checkpoint(self, step: int, path: Path) -> None:
        self.checkpoints.append((step, path))


class FailAtStep(TrainingHooks):
    """Raises like a crash would (disk full, CUDA error) once the loop reports `step`."""

    def __init__(self, step: int, error: BaseException) -> None:
        self.step = step
        self.error = error

    def on_step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None:
        if step == self.step:
            raise self.error
