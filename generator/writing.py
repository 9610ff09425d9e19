"""One way to write texts: sample, screen, read as a reader would, check for copies, rank, keep.

Pool batches (generator.pipeline), pitches (generator.pitches) and a run's evaluation
(generator.run_evaluation) all call `write`, so a quality check added here applies to all three.
It stores nothing: each caller stores what it keeps, with the verdicts `write` returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import fmean
from typing import Protocol

from django.conf import settings

from generator.ml.config import SamplingSettings
from generator.ml.filters import DUPLICATE, Accepted, screen
from generator.ml.format import Sample
from generator.ml.reader_probe import ReaderProbe, reading
from generator.ml.reading import Lexicon, problem
from generator.ml.reranking import RealismScorer, least_doubted
from generator.ml.sampling import Sampler
from generator.ml.text import text_hash
from generator.models import GeneratedDescription, ModelRun
from generator.overfit_check import Check, check_texts, get_detector, get_facts
from generator.pitch_policy import blocklist

OVERFIT = "overfit"
LESS_REAL = "less_real"  # dropped by the critic: read less real than the texts kept
BLOCKED = "blocked"  # holds a blocklisted term (generator.pitch_policy.blocklist)


@dataclass(frozen=True)
class Policy:
    """What a caller asks of the candidates sampled from one prompt."""

    kind: str | None = None  # the kind the prompt names; None: the model picks
    genres: tuple[str, ...] = ()  # genres the prompt names, each text must keep them
    known_genres: frozenset[str] | None = None  # None: any genre name passes
    keep_share: float = 1.0  # of the servable texts, the critic's best this share is kept
    # Drop texts already stored and hold near-duplicates of the pool and of each other; an
    # evaluation stores nothing and checks against the training data alone.
    against_pool: bool = True
    blocklist: bool = True  # drop texts whose title or description holds a blocklisted term
    # Hold invented words and slips (generator.ml.reading); GENERATION_READER_CHECKS.
    reader_checks: bool = field(default_factory=lambda: settings.GENERATION_READER_CHECKS)


@dataclass(frozen=True)
class Candidate:
    item: Accepted
    check: Check  # the overfit check's verdict
    doubt: float = 0.0  # the critic's belief that the text is machine-written (0: none)

    @property
    def text(self) -> str:
        return self.item.record.description

    @property
    def reading(self) -> str:
        """The text as the reader probe reads it: kind, title, description."""
        record = self.item.record
        return reading(record.kind, record.title, record.description)


@dataclass
class Written:
    samples: list[Sample]
    kept: list[Candidate] = field(default_factory=list)  # servable, in sampling order
    held: list[Candidate] = field(default_factory=list)  # copies: stored for moderators only
    rejections: Counter[str] = field(default_factory=Counter)


class Critic(Protocol):
    """Orders servable texts: how strongly each reads as machine-written (lower is better)."""

    def doubts(self, candidates: Sequence[Candidate]) -> list[float]: ...


class FluencyCritic:
    """The writer's own surprise at what it wrote: mean nats per token at temperature 1. Hot
    sampling reaches into the tail for a word here and there; where it did most, the text reads
    least fluently (invented words, clauses that do not follow). Needs no fitting."""

    def doubts(self, candidates: Sequence[Candidate]) -> list[float]:
        return [fmean(c.item.sample.surprises or (0.0,)) for c in candidates]


@dataclass(frozen=True)
class NgramCritic:
    """The run's TF-IDF generated-vs-real classifier (generator.ml.reranking), fitted at its
    evaluation: the judge the TF-IDF AUC uses too, so selecting with it flatters that AUC."""

    scorer: RealismScorer

    def doubts(self, candidates: Sequence[Candidate]) -> list[float]:
        return self.scorer.generated_likelihood([candidate.text for candidate in candidates])


@dataclass(frozen=True)
class ReaderCritic:
    """A probe on the writer's own hidden states (generator.ml.reader_probe), fitted at the run's
    evaluation: it reads the title, the kind and the whole text as the model understands them,
    and is of another family than both judges (TF-IDF, sentence embeddings)."""

    probe: ReaderProbe
    sampler: Sampler

    def doubts(self, candidates: Sequence[Candidate]) -> list[float]:
        texts = [candidate.reading for candidate in candidates]
        return self.probe.doubts(self.sampler.model, self.sampler.tokenizer, texts)


FLUENCY = "fluency"
NGRAM = "ngram"
READER = "reader"
CRITICS = (FLUENCY, NGRAM, READER)


def critic_for(run: ModelRun, sampler: Sampler) -> Critic | None:
    """The critic GENERATION_CRITIC names; a fitted one only once the run's evaluation has fitted
    it (the reader falls back to the n-gram critic, then to none)."""
    if settings.GENERATION_CRITIC == FLUENCY:
        return FluencyCritic()
    checkpoint = Path(run.checkpoint_path)
    if settings.GENERATION_CRITIC == READER and (probe := ReaderProbe.load(checkpoint)):
        return ReaderCritic(probe, sampler)
    scorer = RealismScorer.load(checkpoint)
    return NgramCritic(scorer) if scorer is not None else None


def write(
    sampler: Sampler,
    prompt: str,
    count: int,
    sampling: SamplingSettings,
    policy: Policy,
    critic: Critic | None,
    chunk_size: int | None = None,
    pause: Callable[[], None] | None = None,
    quorum: int | None = None,
) -> Written:
    """Sample `count` texts continuing `prompt` and judge them; `written.kept` is what may serve.

    With `quorum`, sampling stops as soon as that many finished texts would be kept (counted
    within each chunk of `chunk_size` rows: a pitch samples one): the rows still writing are
    dropped, and what finished is judged as if it were all there was.
    """
    met = False

    def enough(finished: list[Sample]) -> bool:
        nonlocal met
        assert quorum is not None
        met = len(finished) >= quorum and len(judge(finished, policy, critic).kept) >= quorum
        return met

    samples = sampler.generate(
        prompt,
        count,
        sampling,
        chunk_size=chunk_size,
        pause=pause,
        is_real_title=get_detector().has_title,
        enough=enough if quorum is not None else None,
    )
    if met:  # the rows cut short were never candidates
        samples = [sample for sample in samples if sample.reached_end]
    return judge(samples, policy, critic)


def judge(samples: list[Sample], policy: Policy, critic: Critic | None) -> Written:
    """Screen, check and rank sampled texts as `policy` asks."""
    screening = screen(
        samples,
        kind=policy.kind,
        genres=policy.genres,
        known_genres=set(policy.known_genres) if policy.known_genres is not None else None,
    )
    written = Written(samples, rejections=Counter(screening.rejections))
    accepted = screening.accepted
    if policy.reader_checks:
        accepted = _readable(accepted, written)
    if policy.blocklist:
        words = blocklist()
        passed = [
            item
            for item in accepted
            if words.match(item.record.title) is None
            and words.match(item.record.description) is None
        ]
        _count(written, BLOCKED, len(accepted) - len(passed))
        accepted = passed
    if policy.against_pool:
        accepted, stored = _drop_stored(accepted)
        _count(written, DUPLICATE, stored)
    checks = check_texts(
        [(item.record.description, item.record.title) for item in accepted],
        against_pool=policy.against_pool,
    )
    candidates = [Candidate(item, check) for item, check in zip(accepted, checks, strict=True)]
    written.held = [candidate for candidate in candidates if candidate.check.overfit]
    _count(written, OVERFIT, len(written.held))
    servable = [candidate for candidate in candidates if not candidate.check.overfit]
    if critic is None or not servable:
        written.kept = servable
        return written
    doubts = critic.doubts(servable)
    servable = [replace(c, doubt=d) for c, d in zip(servable, doubts, strict=True)]
    written.kept = least_doubted(servable, doubts, policy.keep_share)
    _count(written, LESS_REAL, len(servable) - len(written.kept))
    return written


def most_believable(candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate the critic doubts least (the first of equals); None when there is none."""
    return min(candidates, key=lambda candidate: candidate.doubt, default=None)


def _readable(accepted: Sequence[Accepted], written: Written) -> list[Accepted]:
    """The items a careful reader would not catch at once (generator.ml.reading)."""
    lexicon, facts = Lexicon.english(), get_facts()
    readable = []
    for item in accepted:
        if reason := problem(item.record, lexicon, facts):
            written.rejections[reason] += 1
        else:
            readable.append(item)
    return readable


def _count(written: Written, reason: str, count: int) -> None:
    if count:
        written.rejections[reason] += count


def _drop_stored(accepted: Sequence[Accepted]) -> tuple[list[Accepted], int]:
    hashes = [text_hash(item.record.description) for item in accepted]
    stored = set(
        GeneratedDescription.objects.filter(text_hash__in=hashes).values_list(
            "text_hash", flat=True
        )
    )
    kept = [item for item, digest in zip(accepted, hashes, strict=True) if digest not in stored]
    return kept, len(accepted) - len(kept)
