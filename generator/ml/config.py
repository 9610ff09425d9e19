"""Settings of a fine-tune and of sampling, validated. Plain Python: no Django, no torch."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NotRequired, TypedDict

CPU_BATCH_SIZE = 16
GPU_MAX_BATCH_SIZE = 256

# How a batch's tokens are drawn; stored with each text, so it is re-sampled the way it was written.
GENERATE_SAMPLER = 1  # transformers' generate, every row until the last ends, the whole vocabulary
OWN_LOOP_SAMPLER = 2  # generator.ml.decoding: finished rows leave, drawn among the top k
SAMPLER_VERSIONS = (GENERATE_SAMPLER, OWN_LOOP_SAMPLER)


class ConfigError(ValueError):
    """A training setting out of range; `field` names the setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _setting(default: Any, help: str, **argparse: Any) -> Any:
    """A TrainingConfig field: its default and the help text the CLI and the admin form show."""
    return field(default=default, metadata={"help": help, **argparse})


@dataclass(frozen=True)
class TrainingConfig:
    """A fine-tune's hyperparameters, declared once: `finetune`'s options (HfArgumentParser) and
    the admin's start form are built from these fields."""

    steps: int | None = _setting(None, "optimizer steps (default: from epochs)")
    epochs: float | None = _setting(None, "epochs, when steps is not given (default: one)")
    batch_size: int = _setting(8, "records per device and step")
    grad_accum: int = _setting(1, "gradient accumulation steps")
    lr: float = _setting(2e-4, "peak learning rate")
    warmup: int = _setting(20, "warmup steps")
    max_length: int = _setting(96, "tokens per record")
    seed: int = _setting(42, "seed of the split, the data order and the samples")
    eval_fraction: float = _setting(0.05, "held-out share of the titles")
    max_eval_records: int = _setting(200, "at most this many held-out records")
    eval_every: int = _setting(50, "measure the held-out loss every N steps")
    sample_every: int = _setting(50, "write samples every N steps (0: only at the end)")
    save_every: int = _setting(100, "checkpoint every N steps (0: only at the end)")
    num_samples: int = _setting(3, "samples written each time")
    weight_decay: float = _setting(0.01, "AdamW weight decay")
    max_grad_norm: float = _setting(1.0, "gradient clipping norm")
    # Without a stop it memorises: the held-out loss rises once the titles are learnt by heart.
    patience: int = _setting(
        4,
        "stop after N evals in a row without a lower held-out loss and keep the best weights "
        "(0: run every step)",
    )
    max_minutes: float | None = _setting(
        50.0,
        "stop cleanly once training has taken this many minutes (across resumes), keeping the "
        "best weights (0: no limit)",
    )
    trim_vocab: bool | None = _setting(
        None,
        "keep only the vocabulary rows the titles use (smaller output layer, faster steps); "
        "default: for bases with large vocabularies (SmolLM2, Gemma 3)",
        nargs="?",
        const=True,
        metavar="yes|no",
    )

    @classmethod
    def from_given(cls, values: Mapping[str, Any]) -> TrainingConfig:
        """A validated config from the values given; a missing or None value keeps its default."""
        given = {f.name: values[f.name] for f in fields(cls) if values.get(f.name) is not None}
        config = cls(**given)
        config.validate()
        # The default patience simply never fires without evals; one asked for must have them.
        _check(
            not given.get("patience") or config.eval_every > 0,
            "patience",
            "needs eval_every above 0 (evals to compare)",
            config.patience,
        )
        return config

    def validate(self) -> None:
        if self.steps is not None and self.epochs is not None:
            raise ConfigError("steps", "give either steps or epochs, not both")
        _check(self.steps is None or self.steps >= 1, "steps", "must be at least 1", self.steps)
        _check(self.epochs is None or self.epochs > 0, "epochs", "must be above 0", self.epochs)
        for name in ("batch_size", "grad_accum", "num_samples"):
            _check(getattr(self, name) >= 1, name, "must be at least 1", getattr(self, name))
        _check(self.max_length >= 8, "max_length", "must be at least 8", self.max_length)
        _check(math.isfinite(self.lr) and self.lr > 0, "lr", "must be above 0", self.lr)
        fraction, max_eval = self.eval_fraction, self.max_eval_records
        _check(0 < fraction < 0.5, "eval_fraction", "must be above 0 and below 0.5", fraction)
        _check(max_eval >= 1, "max_eval_records", "must be at least 1", max_eval)
        for name in ("warmup", "eval_every", "sample_every", "save_every", "seed"):
            _check(getattr(self, name) >= 0, name, "must not be negative", getattr(self, name))
        _check(self.weight_decay >= 0, "weight_decay", "must not be negative", self.weight_decay)
        _check(self.max_grad_norm > 0, "max_grad_norm", "must be above 0", self.max_grad_norm)
        _check(self.patience >= 0, "patience", "must not be negative", self.patience)
        minutes = self.max_minutes
        _check(
            minutes is None or (math.isfinite(minutes) and minutes >= 0),
            "max_minutes",
            "must not be negative",
            minutes,
        )

    def total_steps(self, train_records: int) -> int:
        if self.steps is not None:
            return self.steps
        per_step = self.batch_size * self.grad_accum
        return max(1, math.ceil((self.epochs or 1.0) * train_records / per_step))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def _check(ok: bool, field: str, message: str, value: object) -> None:
    if not ok:
        raise ConfigError(field, f"{message}, not {value}")


class GenerateKwargs(TypedDict):
    do_sample: bool
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    max_new_tokens: int
    min_p: NotRequired[float]


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.9
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1
    # Drop tokens less likely than this share of the likeliest one (0: off), so hot sampling
    # varies the wording without reaching into the tail where word salad lives.
    min_p: float = 0.0
    max_new_tokens: int = 96
    seed: int = 0
    # Keep rows from closing a title on a real one (generator.ml.title_guard) while sampling.
    avoid_real_titles: bool = False
    sampler_version: int = OWN_LOOP_SAMPLER

    def __post_init__(self) -> None:
        _check_range("temperature", self.temperature, 0.05, 5.0)
        _check_range("top_p", self.top_p, 0.01, 1.0)
        _check_range("top_k", self.top_k, 0, 10_000)
        _check_range("repetition_penalty", self.repetition_penalty, 0.5, 3.0)
        _check_range("min_p", self.min_p, 0.0, 1.0)
        _check_range("max_new_tokens", self.max_new_tokens, 1, 1024)
        _check_range("seed", self.seed, 0, 2**63 - 1)
        if self.sampler_version not in SAMPLER_VERSIONS:
            raise ValueError(
                f"sampler_version must be one of {SAMPLER_VERSIONS}, not {self.sampler_version}"
            )

    @classmethod
    def from_settings(
        cls, conf: Any, *, seed: int | None = None, temperature: float | None = None
    ) -> SamplingSettings:
        """Production sampling from the GENERATION_* settings of `conf` (Django's settings): a
        temperature drawn from the configured range unless given, a fresh seed unless given.
        """
        rng = random.SystemRandom()
        if temperature is None:
            low, high = temperature_range(conf)
            temperature = round(rng.uniform(low, high), 3)
        return cls(
            temperature=temperature,
            top_p=conf.GENERATION_TOP_P,
            top_k=conf.GENERATION_TOP_K,
            repetition_penalty=conf.GENERATION_REPETITION_PENALTY,
            min_p=conf.GENERATION_MIN_P,
            max_new_tokens=conf.GENERATION_MAX_NEW_TOKENS,
            seed=rng.randrange(2**62) if seed is None else seed,
            # Real titles are off limits where the overfit check holds them: steer clear.
            avoid_real_titles=conf.OVERFIT_CHECK_TITLES,
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SamplingSettings:
        """The settings stored as a dict (a batch's `sampling`), other keys left out; a dict
        stored before the sampler had versions was sampled by transformers' generate."""
        known = {f.name for f in fields(cls)}
        stored = {key: value for key, value in values.items() if key in known}
        return cls(**{"sampler_version": GENERATE_SAMPLER, **stored})

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)

    def generate_kwargs(self) -> GenerateKwargs:
        """The settings as `model.generate` takes them (the seed is set on torch instead)."""
        kwargs: GenerateKwargs = {
            "do_sample": True,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "max_new_tokens": self.max_new_tokens,
        }
        if self.min_p:  # left out at 0, so batches stored before it sample exactly as they did
            kwargs["min_p"] = self.min_p
        return kwargs


def temperature_range(conf: Any) -> tuple[float, float]:
    """(lowest, highest) temperature production draws from (GENERATION_TEMPERATURE_MIN/MAX)."""
    return conf.GENERATION_TEMPERATURE_MIN, conf.GENERATION_TEMPERATURE_MAX


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
