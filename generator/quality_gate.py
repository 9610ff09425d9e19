"""The quality gate on a run's realism (ModelRun.realism): one rule for the command and the admin.

`gate(realism)` lists the checks a run fails against the QUALITY_* settings; `compare(new,
active)` lists the gated figures on which a new run is worse than the active one. Torch-free: the
admin imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from generator.models import ModelRun

# Differences below one point are sampling noise at the default 300 samples, not a worse run.
COMPARE_MARGIN = 0.01


@dataclass(frozen=True)
class Thresholds:
    max_auc: float
    min_distinct_2: float  # a share of the real texts' distinct-2
    max_real_title_rate: float
    max_copy_rate: float


@dataclass(frozen=True)
class Figure:
    """A gated figure: its key in ModelRun.realism, its label, and whether lower is better."""

    key: str
    label: str
    lower_is_better: bool


# distinct-2 is compared as a share of real distinct-2: the real texts differ between runs.
DISTINCT_SHARE = "distinct_2_share"
GATED = (
    Figure("discriminator_auc", "discriminator AUC", lower_is_better=True),
    Figure(DISTINCT_SHARE, "distinct-2 (share of real)", lower_is_better=False),
    Figure("real_title_rate", "real-title rate", lower_is_better=True),
    Figure("copy_rate", "copy rate", lower_is_better=True),
)


def thresholds() -> Thresholds:
    return Thresholds(
        max_auc=settings.QUALITY_MAX_AUC,
        min_distinct_2=settings.QUALITY_MIN_DISTINCT_2,
        max_real_title_rate=settings.QUALITY_MAX_REAL_TITLE_RATE,
        max_copy_rate=settings.QUALITY_MAX_COPY_RATE,
    )


def distinct_2_share(realism: Mapping[str, Any]) -> float | None:
    """Generated distinct-2 over real distinct-2 (the plain figure when there is no real one)."""
    generated, real = realism.get("distinct_2"), realism.get("real_distinct_2")
    if generated is None:
        return None
    return generated / real if real else generated


def before_reranking(realism: Mapping[str, Any]) -> tuple[float, Mapping[str, Any]] | None:
    """(keep share, raw figures) when the stored figures are of reranked texts; None otherwise."""
    reranking, before = realism.get("reranking") or {}, realism.get("before_reranking")
    if not reranking.get("scorer") or not before:
        return None
    return reranking["keep_share"], before


def figure(realism: Mapping[str, Any], key: str) -> float | None:
    if key == DISTINCT_SHARE:
        return distinct_2_share(realism)
    value = realism.get(key)
    return None if value is None else float(value)


def gate(realism: Mapping[str, Any], limits: Thresholds | None = None) -> list[str]:
    """The checks `realism` fails, worded for a person; [] when it passes."""
    if not realism:
        return ["not evaluated yet"]
    limits = limits or thresholds()
    failed = []
    auc = figure(realism, "discriminator_auc")
    if auc is None:
        failed.append("discriminator AUC not measured (too few texts)")
    elif auc > limits.max_auc:
        failed.append(f"discriminator AUC {auc:.3f} is above {limits.max_auc:.3f}")
    share = distinct_2_share(realism)
    if share is None:
        failed.append("distinct-2 not measured")
    elif share < limits.min_distinct_2:
        failed.append(
            f"distinct-2 is {share:.0%} of the real texts', below {limits.min_distinct_2:.0%}"
        )
    for key, label, limit in (
        ("real_title_rate", "real-title rate", limits.max_real_title_rate),
        ("copy_rate", "copy rate", limits.max_copy_rate),
    ):
        value = figure(realism, key)
        if value is None:
            failed.append(f"{label} not measured")
        elif value > limit:
            failed.append(f"{label} {value:.1%} is above {limit:.1%}")
    return failed


def compare(new: Mapping[str, Any], active: Mapping[str, Any]) -> list[str]:
    """The gated figures on which `new` is worse than `active` by more than COMPARE_MARGIN."""
    worse = []
    for gated in GATED:
        ours, theirs = figure(new, gated.key), figure(active, gated.key)
        if theirs is None:
            continue  # nothing to be worse than
        if ours is None:
            worse.append(f"{gated.label}: not measured, the active run's is {theirs:.3f}")
            continue
        difference = ours - theirs if gated.lower_is_better else theirs - ours
        if difference > COMPARE_MARGIN:
            worse.append(f"{gated.label}: {ours:.3f} against the active run's {theirs:.3f}")
    return worse


def activation_problems(new: Mapping[str, Any], active: Mapping[str, Any] | None) -> list[str]:
    """Why activating a run with realism `new` needs confirmation: its gate, then the comparison."""
    problems = gate(new)
    if active and new:
        problems += [f"worse than the active run: {line}" for line in compare(new, active)]
    return problems


def run_activation_problems(run: ModelRun) -> list[str]:
    """activation_problems of `run` against the run generation uses now (if another one)."""
    active = ModelRun.objects.active()
    against = active.realism if active is not None and active.pk != run.pk else None
    return activation_problems(run.realism, against)
