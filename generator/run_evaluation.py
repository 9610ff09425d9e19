"""How real a finished run's descriptions read: sampled as production samples, against real ones.

`evaluate_run(run_id, samples, seed)` loads the run's checkpoint, writes `samples` records as
batches write them (generator.writing; SamplingSettings.from_settings, a temperature per group
drawn evenly over the configured range), builds the real descriptions the run never trained on
(its held-out eval split, generator.ml.splits, plus the titles beyond its `limit`), and scores
with generator.ml.evaluation against them what batches would serve of the samples (filtered,
copies held, reranked per batch): AUC, distinct-2 and length; the real-title and copy rates
are of all samples, before filtering. The figures of all samples are kept too
(`before_reranking`). They are stored on `ModelRun.realism`. It queues nothing: the Celery
task `generator.evaluate_run` and `manage.py evaluate_run` call it. It loads torch (the sampler),
so the web process and the admin must queue the task by name (generator.queueing).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from generator.finetune_runs import DATABASE_SOURCE, training_records
from generator.ml.config import SamplingSettings, TrainingConfig, temperature_range
from generator.ml.dataset import DatasetError
from generator.ml.evaluation import Realism, evaluate, parsed
from generator.ml.format import (
    END_TOKEN,
    START_TOKEN,
    FormatError,
    Sample,
    parse_record,
    prompt_prefix,
)
from generator.ml.overfit import Detector
from generator.ml.reader_probe import PROBE_FILE, ProbeError, ReaderProbe, reading
from generator.ml.reranking import SCORER_FILE, RealismScorer, RerankError
from generator.ml.sampling import Sampler, get_sampler
from generator.ml.splits import SplitError, split_records
from generator.ml.text import normalise, normalise_space
from generator.models import ModelRun
from generator.overfit_check import get_detector, get_facts, thresholds
from generator.pitches import make_room
from generator.pools import ALL
from generator.writing import (
    FLUENCY,
    READER,
    Critic,
    FluencyCritic,
    NgramCritic,
    Policy,
    ReaderCritic,
    judge,
    write,
)

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = 300
# One temperature is drawn per this many texts, as production draws one per batch.
TEXTS_PER_TEMPERATURE = 16
# The "all" pool's prompt leaves the kind to the model; the rest name a kind, as kind pools do.
ALL_PROMPT_SHARE = 0.5
# The reranker's own texts are sampled with this added to the evaluation's seed.
SCORER_SEED_OFFSET = 1_000_003
KINDS = ("movie", "tv")


class EvaluationError(ValueError):
    """The run cannot be evaluated (missing, unfinished, no checkpoint, no held-out texts)."""


@dataclass(frozen=True)
class HeldOut:
    """The real descriptions a run never trained on, and the kinds of the records it did."""

    descriptions: list[str]
    from_split: int  # of them, from the run's held-out eval split
    beyond_limit: int  # of them, from titles past the run's `limit`
    trained: list[str]  # the descriptions it trained on
    trained_kinds: Counter[str]  # "movie", "tv", or "" for plain-text records
    trained_readings: list[str]  # its formatted training records as the reader probe reads them


@dataclass(frozen=True)
class SampleGroup:
    """Texts sampled from one prompt with one production sampling draw (like one batch)."""

    prompt: str  # ALL, "movie" or "tv"
    count: int
    sampling: SamplingSettings


def evaluable_run(run_id: int) -> ModelRun:
    """The run, if it is done and its checkpoint is on disk; EvaluationError says why not."""
    run = ModelRun.objects.filter(pk=run_id).first()
    if run is None:
        raise EvaluationError(f"no model run #{run_id}")
    if run.status != ModelRun.Status.DONE:
        raise EvaluationError(f"model run #{run_id} is {run.status}: only a done run is evaluated")
    if not run.checkpoint_path:
        raise EvaluationError(f"model run #{run_id} has no checkpoint")
    if not Path(run.checkpoint_path).is_dir():
        raise EvaluationError(
            f"model run #{run_id}: its checkpoint {run.checkpoint_path} is not on this machine"
        )
    return run


def record_fields(record: str) -> tuple[str, str]:
    """(kind, description) of a formatted training record; kind "" for a plain-text one."""
    try:
        parsed = parse_record(record)
    except FormatError:
        body = record.removeprefix(START_TOKEN).removesuffix(END_TOKEN)
        return "", normalise_space(body)
    return parsed.kind, parsed.description


def held_out(run: ModelRun) -> HeldOut:
    """The run's held-out split plus titles past its `limit`, minus texts equal to trained ones."""
    hyperparameters = run.hyperparameters
    config = TrainingConfig.from_dict(hyperparameters)
    limit = hyperparameters.get("limit")
    try:
        records = training_records(hyperparameters.get("data", DATABASE_SOURCE), None)
        used = records[:limit]
        train, split = split_records(
            used, config.eval_fraction, config.seed, config.max_eval_records
        )
    except (DatasetError, SplitError, OSError) as exc:
        raise EvaluationError(f"model run #{run.pk}: its training data: {exc}") from None
    trained = [record_fields(record) for record in train]
    seen = {normalise(description) for _kind, description in trained}
    # A catalogue repeats some descriptions under other titles: those were trained on too.
    from_split = _unseen(split, seen)
    beyond = _unseen(records[len(used) :], seen)
    if not from_split and not beyond:
        raise EvaluationError(f"model run #{run.pk}: no real description it never trained on")
    return HeldOut(
        descriptions=from_split + beyond,
        from_split=len(from_split),
        beyond_limit=len(beyond),
        trained=[description for _kind, description in trained],
        trained_kinds=Counter(kind for kind, _description in trained),
        trained_readings=_readings(train),
    )


def _readings(records: list[str]) -> list[str]:
    readings = []
    for record in records:
        try:
            fields = parse_record(record)
        except FormatError:
            continue  # plain-text records have no title or kind to read
        readings.append(reading(fields.kind, fields.title, fields.description))
    return readings


def _unseen(records: list[str], seen: set[str]) -> list[str]:
    descriptions = [record_fields(record)[1] for record in records]
    return [text for text in descriptions if text and normalise(text) not in seen]


def prompt_counts(samples: int, kinds: Mapping[str, int]) -> dict[str, int]:
    """Texts per prompt: ALL_PROMPT_SHARE on the "all" prompt, the rest by the trained kinds."""
    movies, shows = kinds.get("movie", 0), kinds.get("tv", 0)
    if not movies + shows:
        return {ALL: samples}
    kinded = samples - round(samples * ALL_PROMPT_SHARE)
    movie_count = round(kinded * movies / (movies + shows))
    counts = {ALL: samples - kinded, "movie": movie_count, "tv": kinded - movie_count}
    return {prompt: count for prompt, count in counts.items() if count}


def sampling_plan(samples: int, kinds: Mapping[str, int], seed: int) -> list[SampleGroup]:
    """Seeded groups of production sampling draws covering `samples` texts."""
    rng = random.Random(seed)
    sizes = [
        (prompt, min(TEXTS_PER_TEMPERATURE, count - start))
        for prompt, count in prompt_counts(samples, kinds).items()
        for start in range(0, count, TEXTS_PER_TEMPERATURE)
    ]
    temperatures = _stratified_temperatures(len(sizes), rng)
    return [
        SampleGroup(
            prompt,
            size,
            SamplingSettings.from_settings(
                settings, temperature=temperature, seed=rng.randrange(2**62)
            ),
        )
        for (prompt, size), temperature in zip(sizes, temperatures, strict=True)
    ]


def _stratified_temperatures(count: int, rng: random.Random) -> list[float]:
    # One draw per equal slice of the range, shuffled: uniform over it, as production's draws are.
    low, high = temperature_range(settings)
    drawn = [
        round(low + (index + rng.random()) / count * (high - low), 3) for index in range(count)
    ]
    rng.shuffle(drawn)
    return drawn


def evaluate_run(run_id: int, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> Realism:
    """Sample run `run_id`, score the samples against real held-out texts, store and return it."""
    if samples < 1:
        raise EvaluationError(f"samples must be at least 1, not {samples}")
    if seed < 0:
        raise EvaluationError(f"seed must be zero or positive, not {seed}")
    run = evaluable_run(run_id)
    real = held_out(run)
    started = time.monotonic()
    sampler = get_sampler(run.checkpoint_path, settings.GENERATION_DTYPE)
    # Measured first, so the evaluation samples as fast as the batches will.
    chunk_size = measure_batch_size(run, sampler)
    plan = sampling_plan(samples, real.trained_kinds, seed)
    detector, limits, facts = get_detector(), thresholds(), get_facts()
    reranking: dict[str, Any] = {"keep_share": settings.GENERATION_KEEP_SHARE}
    critic: Critic | None = None
    if settings.GENERATION_KEEP_SHARE < 1:
        if settings.GENERATION_CRITIC == FLUENCY:
            critic = FluencyCritic()
        else:
            critic = _fit_critics(run, real, sampler, chunk_size, samples, seed, detector)
        reranking["critic"] = settings.GENERATION_CRITIC if critic is not None else ""
    # Written as batches write (generator.writing), the pool aside: it is not the run's.
    written = [
        write(
            sampler,
            _prefix(group.prompt),
            group.count,
            group.sampling,
            Policy(
                kind=None if group.prompt == ALL else group.prompt,
                keep_share=settings.GENERATION_KEEP_SHARE,
                against_pool=False,
            ),
            critic,
            chunk_size,
            # Minutes of sampling on a CPU: a visitor's pitch is written in between.
            pause=lambda: make_room(sampler),
        )
        for group in plan
    ]
    # As many real texts as samples, so the classifier's two classes weigh the same.
    references = random.Random(seed).sample(real.descriptions, min(len(real.descriptions), samples))
    sampled = [sample for group in written for sample in group.samples]
    raw = evaluate(sampled, references, detector, limits, seed, facts)
    kept = [candidate for group in written for candidate in group.kept]
    served = [candidate.item.sample for candidate in kept]
    # Served texts hold no copies or real titles by construction: those two are of all samples.
    realism = replace(
        evaluate(served, references, detector, limits, seed, facts),
        embedding_auc=_embedding_auc([candidate.text for candidate in kept], references, seed),
        samples=raw.samples,
        format_failure_rate=raw.format_failure_rate,
        real_title_rate=raw.real_title_rate,
        copy_rate=raw.copy_rate,
    )
    stored = {
        **realism.as_dict(),
        "before_reranking": raw.as_dict(),
        "reranking": reranking,
        "served_texts": len(served),
        # Samples kept from closing a real title where closing it was their likeliest next token.
        "steered_title_rate": sum(sample.steered for sample in sampled) / len(sampled),
        "evaluated_at": timezone.now().isoformat(),
        "seed": seed,
        "real_texts": len(references),
        "held_out": {"eval_split": real.from_split, "beyond_limit": real.beyond_limit},
        "eval_loss": run.kept_eval_loss,
        "sampling": _sampling_record(plan, chunk_size, sampler.dtype),
        "seconds": round(time.monotonic() - started, 1),
    }
    ModelRun.objects.filter(pk=run.pk).update(realism=stored)
    log.info("model run #%s realism: %s", run.pk, realism)
    return realism


def measure_batch_size(run: ModelRun, sampler: Sampler) -> int:
    """Store the batch size that samples fastest on this device (the one that generates)."""
    production = SamplingSettings.from_settings(
        settings, seed=0, temperature=temperature_range(settings)[0]
    )
    measured = sampler.measure_batch_size(_prefix(ALL), production)
    ModelRun.objects.filter(pk=run.pk).update(batch_size=measured.best)
    rates = ", ".join(f"{size}: {rate:.0f}" for size, rate in measured.rates.items())
    log.info(
        "run #%s samples fastest in batches of %s (tokens/s: %s)", run.pk, measured.best, rates
    )
    return measured.best


def _sample(
    sampler: Sampler, plan: list[SampleGroup], chunk_size: int, detector: Detector
) -> list[list[Sample]]:
    """Each group's samples, drawn as a batch draws them."""
    return [
        sampler.generate(
            _prefix(group.prompt),
            group.count,
            group.sampling,
            chunk_size,
            # Minutes of sampling on a CPU: a visitor's pitch is written in between.
            pause=lambda: make_room(sampler),
            is_real_title=detector.has_title,
        )
        for group in plan
    ]


def _fit_critics(
    run: ModelRun,
    real: HeldOut,
    sampler: Sampler,
    chunk_size: int,
    samples: int,
    seed: int,
    detector: Detector,
) -> Critic | None:
    """Fit the run's critics on texts the evaluation does not score, against trained real ones,
    and save them beside the checkpoint (replacing older ones): the n-gram scorer always (the
    fallback, and what fit_critic refits), the reader probe where GENERATION_CRITIC asks for it.
    The critic GENERATION_CRITIC names, or None where too few texts came out to fit one.
    """
    plan = sampling_plan(samples, real.trained_kinds, seed + SCORER_SEED_OFFSET)
    sampled = _sample(sampler, plan, chunk_size, detector)
    checkpoint = Path(run.checkpoint_path)
    rng = random.Random(seed)
    generated = [
        record.description for record in parsed(sample for group in sampled for sample in group)[0]
    ]
    trained = rng.sample(real.trained, min(len(real.trained), len(generated)))
    scorer: RealismScorer | None = None
    try:
        scorer = RealismScorer.fit(generated, trained)
    except RerankError as exc:
        log.warning("model run #%s: no n-gram critic: %s", run.pk, exc)
        (checkpoint / SCORER_FILE).unlink(missing_ok=True)
    else:
        scorer.save(checkpoint)
    if settings.GENERATION_CRITIC == READER:
        # The texts a critic will rank: those that pass the screen and the reader checks.
        policy = Policy(keep_share=1.0, against_pool=False)
        servable = [judge(group, policy, None).kept for group in sampled]
        readings = [candidate.reading for group in servable for candidate in group]
        real_readings = rng.sample(
            real.trained_readings, min(len(real.trained_readings), len(readings))
        )
        try:
            probe = ReaderProbe.fit(sampler.model, sampler.tokenizer, readings, real_readings)
        except ProbeError as exc:
            log.warning("model run #%s: no reader critic: %s", run.pk, exc)
            (checkpoint / PROBE_FILE).unlink(missing_ok=True)
        else:
            probe.save(checkpoint)
            return ReaderCritic(probe, sampler)
    return NgramCritic(scorer) if scorer is not None else None


def _embedding_auc(generated: list[str], real: list[str], seed: int) -> float | None:
    """The other-family judge's AUC (generator.ml.embeddings); None where no encoder loads."""
    from generator.ml.embeddings import EmbeddingError, embedding_auc, get_encoder, shipped_model

    try:
        name = settings.EVALUATION_ENCODER or shipped_model(settings.MODEL_DIR / "judges")
        return embedding_auc(generated, real, get_encoder(name), seed)
    except (EmbeddingError, OSError) as exc:
        log.warning("no embedding judge: %s", exc)
        return None


def _prefix(prompt: str) -> str:
    return prompt_prefix(None if prompt == ALL else prompt)


def _sampling_record(plan: list[SampleGroup], chunk_size: int, dtype: str) -> dict[str, Any]:
    first = plan[0].sampling.as_dict()
    prompts: Counter[str] = Counter()
    for group in plan:
        prompts[group.prompt] += group.count
    return {
        "temperature_min": settings.GENERATION_TEMPERATURE_MIN,
        "temperature_max": settings.GENERATION_TEMPERATURE_MAX,
        **{name: first[name] for name in ("top_p", "top_k", "min_p", "repetition_penalty")},
        "max_new_tokens": first["max_new_tokens"],
        "avoid_real_titles": first["avoid_real_titles"],
        "texts_per_temperature": TEXTS_PER_TEMPERATURE,
        "chunk_size": chunk_size,
        "dtype": dtype,
        "sampler_version": first["sampler_version"],
        "prompts": dict(prompts),
        # Enough to reproduce every text: prompt, rows, temperature and seed of each group.
        "groups": [
            [group.prompt, group.count, group.sampling.temperature, group.sampling.seed]
            for group in plan
        ],
    }
