"""One generation batch end to end: sample, filter, check for overfitting, store.

Idempotent: a batch already done is skipped, a re-delivered batch re-samples with its stored seed
and chunk size, and the text-hash uniqueness rule with `bulk_create(ignore_conflicts=True)` means no
text is ever stored twice. Storing and marking the batch done happen in one transaction. A batch
with no recorded chunk size is chunked for the device of the process that runs it (not the one
that created it), and the chunk size used is recorded with the batch.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generator.ml.config import SamplingSettings
from generator.ml.filters import DUPLICATE, Accepted, screen
from generator.ml.format import prompt_prefix
from generator.ml.reranking import RealismScorer, most_real
from generator.ml.sampling import default_batch_size, get_sampler
from generator.ml.text import text_hash
from generator.models import GeneratedDescription, GenerationBatch, ModelRun
from generator.overfit_check import apply_verdicts, get_detector
from generator.pitches import make_room
from titles.models import Genre

log = logging.getLogger(__name__)

OVERFIT = "overfit"
LESS_REAL = "less_real"  # dropped by the reranker: read less real than the texts kept


def batch_size() -> int:
    """Texts per batch: GENERATION_BATCH_SIZE, else what this process's device handles."""
    return settings.GENERATION_BATCH_SIZE or default_batch_size()


def claim_batch(batch_id: int) -> GenerationBatch | None:
    """Mark the batch running unless it is already done; None when there is nothing to do."""
    claimed = GenerationBatch.objects.filter(
        Q(status=GenerationBatch.Status.QUEUED) | Q(status=GenerationBatch.Status.RUNNING),
        pk=batch_id,
    ).update(status=GenerationBatch.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    return GenerationBatch.objects.select_related("model_run", "genre").get(pk=batch_id)


def run_batch(batch_id: int) -> GenerationBatch | None:
    batch = claim_batch(batch_id)
    if batch is None:
        log.info("batch %s is already done or gone", batch_id)
        return None
    try:
        return _run(batch)
    except Exception as exc:
        GenerationBatch.objects.filter(pk=batch.pk).update(
            status=GenerationBatch.Status.FAILED, error=f"{type(exc).__name__}: {exc}"
        )
        raise


def _run(batch: GenerationBatch) -> GenerationBatch:
    sampler = get_sampler(batch.model_run.checkpoint_path)
    sampler.simulate_oom_above = settings.GENERATION_SIMULATE_OOM_ABOVE
    stored_sampling = dict(batch.sampling)
    # A recorded chunk size is kept: a text is reproduced from its seed, chunk size and row.
    chunk_size = stored_sampling.pop("chunk_size", None) or sampler.auto_batch_size()
    genres = [batch.genre.name] if batch.genre else []
    samples = sampler.generate(
        prompt_prefix(batch.kind or None, genres),
        batch.requested,
        SamplingSettings(**stored_sampling),
        chunk_size=chunk_size,
        # A visitor's pitch is written at the next pause point, not after the whole batch.
        pause=lambda: make_room(sampler),
        is_real_title=get_detector().has_title,
    )
    genre_ids = dict(Genre.objects.values_list("name", "id"))
    screening = screen(
        samples,
        kind=batch.kind or None,
        genres=genres,
        known_genres=set(genre_ids),
    )
    accepted, duplicates = _drop_stored(screening.accepted)
    rejections = Counter(screening.rejections)
    if duplicates:
        rejections[DUPLICATE] += duplicates
    rows = [_description(batch, item) for item in accepted]
    apply_verdicts(rows)  # overfit check against the training data and the pool: sets status
    pairs = list(zip(rows, accepted, strict=True))
    overfit = GeneratedDescription.Status.OVERFIT
    held = [(row, item) for row, item in pairs if row.status == overfit]
    rejections[OVERFIT] += len(held)
    # Held texts are stored for moderators; the reranker chooses among the servable rest.
    servable = [(row, item) for row, item in pairs if row.status != overfit]
    kept = _most_real(batch.model_run, servable)
    if less_real := len(servable) - len(kept):
        rejections[LESS_REAL] += less_real
    rows, accepted = [row for row, _ in kept + held], [item for _, item in kept + held]
    with transaction.atomic():
        _store(batch, rows, accepted, genre_ids)
        GenerationBatch.objects.filter(pk=batch.pk).update(
            status=GenerationBatch.Status.DONE,
            sampling={**batch.sampling, "chunk_size": sampler.last_chunk_size},
            accepted=sum(row.status != GeneratedDescription.Status.OVERFIT for row in rows),
            rejections=dict(rejections),
            finished_at=timezone.now(),
            error="",
        )
    batch.refresh_from_db()
    log.info("batch %s: %s accepted, rejections %s", batch.pk, batch.accepted, batch.rejections)
    return batch


def _most_real(
    run: ModelRun, servable: list[tuple[GeneratedDescription, Accepted]]
) -> list[tuple[GeneratedDescription, Accepted]]:
    """The GENERATION_KEEP_SHARE of the servable texts the run's reranker finds most real; all of
    them where the run has no reranker (not evaluated yet).
    """
    share = settings.GENERATION_KEEP_SHARE
    scorer = RealismScorer.load(Path(run.checkpoint_path)) if share < 1 else None
    if scorer is None:
        return servable
    return most_real(servable, [row.text for row, _ in servable], scorer, share)


def _drop_stored(accepted: list[Accepted]) -> tuple[list[Accepted], int]:
    hashes = [text_hash(item.record.description) for item in accepted]
    stored = set(
        GeneratedDescription.objects.filter(text_hash__in=hashes).values_list(
            "text_hash", flat=True
        )
    )
    kept = [item for item, digest in zip(accepted, hashes, strict=True) if digest not in stored]
    return kept, len(accepted) - len(kept)


def _description(batch: GenerationBatch, item: Accepted) -> GeneratedDescription:
    sampling = batch.sampling
    return GeneratedDescription(
        title=item.record.title,
        kind=item.record.kind,
        text=item.record.description,
        text_hash=text_hash(item.record.description),
        status=GeneratedDescription.Status.APPROVED,
        model_run=batch.model_run,
        batch=batch,
        batch_row=item.sample.row,
        **GeneratedDescription.sampling_fields(sampling),
    )


def _store(
    batch: GenerationBatch,
    rows: list[GeneratedDescription],
    accepted: list[Accepted],
    genre_ids: dict[str, int],
) -> None:
    # With their overfit signatures, so the next check (in any worker) sees these texts.
    GeneratedDescription.objects.store(rows, ignore_conflicts=True)
    ids = dict(
        GeneratedDescription.objects.filter(
            text_hash__in=[row.text_hash for row in rows]
        ).values_list("text_hash", "id")
    )
    through = GeneratedDescription.genres.through
    through.objects.bulk_create(
        [
            through(generateddescription_id=ids[row.text_hash], genre_id=genre_ids[name])
            for row, item in zip(rows, accepted, strict=True)
            for name in item.record.genres
            if row.text_hash in ids
        ],
        ignore_conflicts=True,
    )
