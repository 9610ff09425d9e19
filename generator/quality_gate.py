"""The quality gate on a run's realism (ModelRun.realism): one rule for the command and the admin.

`gate(realism)` lists the checks a run fails against the QUALITY_* settings; `compare(new,
active)` lists the gated figures on which a new run is worse than the active one. Torch-free: the
admin imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from generator.models import ModelRun

# Differences below one point are sampling noise at the default 300 samples, not a worse run.
COMPARE_MARGIN = 0.01
# distinct-2 is gated as a share of real distinct-2: the real texts differ between runs.
DISTINCT_SHARE = "distinct_2_share"


def rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def loss(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


@dataclass(frozen=True)
class Figure:
    """One figure of ModelRun.realism: its label, how it reads, which way is better and, when
    gated, the QUALITY_* setting that bounds it. The gate, the admin and `evaluate_run` all
    render from FIGURES.
    """

    key: str
    label: str
    meaning: str
    show: Callable[[float | None], str] = number
    lower_is_better: bool | None = None  # None: context, neither better nor worse
    limit_setting: str = ""  # the QUALITY_* setting gating it; "" for an ungated figure
    gated_key: str = ""  # the value the gate compares, where it is not `key` (distinct-2)

    @property
    def gated(self) -> bool:
        return bool(self.limit_setting)

    def limit(self) -> float:
        return float(getattr(settings, self.limit_setting))

    def value(self, realism: Mapping[str, Any]) -> float | None:
        return figure(realism, self.gated_key or self.key)

    def bound(self) -> str:
        """The threshold as a person reads it ("≤ 0.75", "≥ 85% of real")."""
        sign = "≤" if self.lower_is_better else "≥"
        if self.gated_key == DISTINCT_SHARE:
            return f"{sign} {self.limit():.0%} of real"
        return (
            f"{sign} {self.limit():.2f}" if self.show is number else f"{sign} {rate(self.limit())}"
        )

    def failure(self, realism: Mapping[str, Any]) -> str | None:
        """Why `realism` fails this figure's gate, worded for a person; None when it passes."""
        value = self.value(realism)
        if value is None:
            return f"{self.label} not measured" + (
                " (too few texts)" if self.key.endswith("_auc") else ""
            )
        passed = value <= self.limit() if self.lower_is_better else value >= self.limit()
        if passed:
            return None
        if self.gated_key == DISTINCT_SHARE:
            return f"{self.label} is {value:.0%} of the real texts', below {self.limit():.0%}"
        return f"{self.label} {self.show(value)} is above {self.show(self.limit())}"


FIGURES = (
    Figure(
        "discriminator_auc",
        "discriminator AUC",
        "how well a TF-IDF classifier tells served from real: 0.5 cannot, 1.0 always can",
        lower_is_better=True,
        limit_setting="QUALITY_MAX_AUC",
    ),
    Figure(
        "embedding_auc",
        "embedding AUC",
        "the same with sentence embeddings, a judge of a family nothing selects with",
        lower_is_better=True,
        limit_setting="QUALITY_MAX_EMBEDDING_AUC",
    ),
    Figure(
        "invented_word_rate",
        "invented-word rate",
        "served texts holding a lowercase word no English dictionary lists",
        rate,
        lower_is_better=True,
        limit_setting="QUALITY_MAX_INVENTED_WORD_RATE",
    ),
    Figure(
        "real_invented_word_rate",
        "invented words in real texts",
        "the same, for the real texts",
        rate,
    ),
    Figure(
        "slip_rate",
        "slip rate",
        "served texts with a mechanical slip: article, doubled word or phrase, a real title "
        "extended, a real person named, the other kind's words",
        rate,
        lower_is_better=True,
        limit_setting="QUALITY_MAX_SLIP_RATE",
    ),
    Figure("real_slip_rate", "slips in real texts", "the same, for the real texts", rate),
    Figure(
        "distinct_2",
        "distinct-2",
        "distinct word pairs over all word pairs; below the real texts' is repetitive",
        lower_is_better=False,
        limit_setting="QUALITY_MIN_DISTINCT_2",
        gated_key=DISTINCT_SHARE,
    ),
    Figure("real_distinct_2", "distinct-2 of real texts", "the same, for the real texts"),
    Figure(
        "length_distance",
        "length distance",
        "Kolmogorov-Smirnov distance between word counts: 0 is the same spread",
        lower_is_better=True,
    ),
    Figure(
        "format_failure_rate",
        "format failures",
        "samples that never ended or do not parse as a record",
        rate,
        lower_is_better=True,
    ),
    Figure(
        "real_title_rate",
        "real-title rate",
        "parsed samples titled like a training title, before any filtering",
        rate,
        lower_is_better=True,
        limit_setting="QUALITY_MAX_REAL_TITLE_RATE",
    ),
    Figure(
        "steered_title_rate",
        "titles steered off real ones",
        "samples kept from closing a real title where that was their likeliest next token",
        rate,
    ),
    Figure(
        "copy_rate",
        "copy rate",
        "parsed samples the overfit check calls copies of training descriptions, before "
        "filtering (batches hold them: none is served)",
        rate,
        lower_is_better=True,
        limit_setting="QUALITY_MAX_COPY_RATE",
    ),
    Figure(
        "eval_loss",
        "held-out eval loss",
        "the run's kept held-out loss when it was evaluated",
        loss,
        lower_is_better=True,
    ),
)
GATED = tuple(item for item in FIGURES if item.gated)


def distinct_2_share(realism: Mapping[str, Any]) -> float | None:
    """Generated distinct-2 over real distinct-2 (the plain figure when there is no real one)."""
    generated, real = realism.get("distinct_2"), realism.get("real_distinct_2")
    if generated is None:
        return None
    return generated / real if real else generated


def before_reranking(realism: Mapping[str, Any]) -> tuple[float, Mapping[str, Any]] | None:
    """(keep share, raw figures) when the stored figures are of reranked texts; None otherwise."""
    reranking, before = realism.get("reranking") or {}, realism.get("before_reranking")
    # "critic" names the one that picked ("scorer": True in figures stored before it had a name).
    if not (reranking.get("critic") or reranking.get("scorer")) or not before:
        return None
    return reranking["keep_share"], before


def figure(realism: Mapping[str, Any], key: str) -> float | None:
    if key == DISTINCT_SHARE:
        return distinct_2_share(realism)
    value = realism.get(key)
    return None if value is None else float(value)


def gate(realism: Mapping[str, Any]) -> list[str]:
    """The checks `realism` fails, worded for a person; [] when it passes."""
    if not realism:
        return ["not evaluated yet"]
    return [failure for item in GATED if (failure := item.failure(realism)) is not None]


def compare(new: Mapping[str, Any], active: Mapping[str, Any]) -> list[str]:
    """The gated figures on which `new` is worse than `active` by more than COMPARE_MARGIN."""
    worse = []
    for gated in GATED:
        ours, theirs = gated.value(new), gated.value(active)
        if theirs is None:
            continue  # nothing to be worse than
        if ours is None:
            worse.append(f"{gated.label}: not measured, the active run's is {theirs:.3f}")
            continue
        difference = ours - theirs if gated.lower_is_better else theirs - ours
        if difference > COMPARE_MARGIN:
            label = f"{gated.label} (share of real)" if gated.gated_key else gated.label
            worse.append(f"{label}: {ours:.3f} against the active run's {theirs:.3f}")
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
