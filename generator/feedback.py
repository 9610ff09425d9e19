"""What the site's readers said about a run's texts, as labels for its critic.

Moderators' rejections, visitors' reports and texts voted down more than up are texts readers did
not believe; texts voted up with no report, and texts a moderator approved, are texts they did.
`fit_critic` refits the run's n-gram critic (generator.ml.reranking) on those besides its own
texts against real ones, once there are enough labels.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from django.db.models import F, Q, QuerySet

from generator.ml.reranking import RealismScorer
from generator.models import GeneratedDescription, ModelRun
from generator.run_evaluation import held_out

Status = GeneratedDescription.Status
MIN_LABELS = 20  # fewer verdicts than this teach the critic noise


class FeedbackError(ValueError):
    """Too few labelled texts, or a run whose critic cannot be refitted here."""


@dataclass(frozen=True)
class Feedback:
    doubted: list[str]
    believed: list[str]


def doubted(texts: QuerySet[GeneratedDescription]) -> QuerySet[GeneratedDescription]:
    return texts.filter(
        Q(status=Status.REJECTED) | Q(report_count__gt=0) | Q(down_votes__gt=F("up_votes"))
    )


def believed(texts: QuerySet[GeneratedDescription]) -> QuerySet[GeneratedDescription]:
    voted_up = Q(up_votes__gt=F("down_votes"), report_count=0)
    approved = Q(status=Status.APPROVED, moderated_by__isnull=False, report_count=0)
    return texts.filter(voted_up | approved).exclude(pk__in=doubted(texts).values("pk"))


def feedback(run: ModelRun) -> Feedback:
    texts = GeneratedDescription.objects.filter(model_run=run).order_by("pk")
    return Feedback(
        doubted=list(doubted(texts).values_list("text", flat=True)),
        believed=list(believed(texts).values_list("text", flat=True)),
    )


def fit_critic(run: ModelRun, seed: int = 0, min_labels: int = MIN_LABELS) -> Feedback:
    """Refit and save the run's n-gram critic with the site's feedback; FeedbackError if the
    readers have said too little yet."""
    if not run.checkpoint_path or not Path(run.checkpoint_path).is_dir():
        raise FeedbackError(f"run #{run.pk} has no checkpoint on this machine")
    said = feedback(run)
    if len(said.doubted) + len(said.believed) < min_labels:
        raise FeedbackError(
            f"run #{run.pk} has {len(said.doubted)} doubted and {len(said.believed)} believed "
            f"texts; the critic learns from {min_labels} or more"
        )
    labelled = set(said.doubted) | set(said.believed)
    rng = random.Random(seed)
    trained = held_out(run).trained
    real = rng.sample(trained, min(len(trained), 2000))
    others = [
        text
        for text in GeneratedDescription.objects.filter(model_run=run)
        .order_by("pk")
        .values_list("text", flat=True)
        if text not in labelled
    ]
    generated = rng.sample(others, min(len(others), len(real)))
    scorer = RealismScorer.fit(generated, real, said.doubted, said.believed)
    scorer.save(Path(run.checkpoint_path))
    return said
