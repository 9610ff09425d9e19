"""One generation batch end to end: sample, filter, check for overfitting, store.

Idempotent: a batch already done is skipped, a re-delivered batch re-samples with its stored seed
and chunk size, and the text-hash uniqueness rule with `bulk_create(ignore_conflicts=True)` means no
text is ever stored twice. Storing and marking the batch done happen in one transaction. A batch
with no recorded chunk size is chunked for the device of the process that runs it (not the one
that created it), and the chunk size used is recorded with the batch.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generator.ml.config import SamplingSettings
from generator.ml.filters import Accepted
from generator.ml.format import prompt_prefix
from generator.ml.sampling import default_batch_size, get_sampler
from generator.ml.text import text_hash
from generator.models import GeneratedDescription, GenerationBatch, ModelRun
from generator.overfit_check import fields_for
from generator.pitches import make_room
from generator.writing import Candidate, Policy, critic_for, write
from titles.models import Genre

log = logging.getLogger(__name__)


def batch_size(run: ModelRun | None) -> int:
    """Texts per batch: GENERATION_BATCH_SIZE, else the size that sampled fastest when the run
    was evaluated (on the device that generates), else a default for this process's device."""
    measured = run.batch_size if run is not None else None
    return settings.GENERATION_BATCH_SIZE or measured or default_batch_size()


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
    # A recorded dtype and chunk size are kept: a text is reproduced from its seed, chunk size,
    # row and dtype.
    sampler = get_sampler(
        batch.model_run.checkpoint_path, batch.sampling.get("dtype") or settings.GENERATION_DTYPE
    )
    chunk_size = (
        batch.sampling.get("chunk_size") or batch.model_run.batch_size or sampler.auto_batch_size()
    )
    sampling = SamplingSettings.from_dict(batch.sampling)
    genres = (batch.genre.name,) if batch.genre else ()
    genre_ids = dict(Genre.objects.values_list("name", "id"))
    share = settings.GENERATION_KEEP_SHARE
    written = write(
        sampler,
        prompt_prefix(batch.kind or None, genres),
        batch.requested,
        sampling,
        Policy(
            kind=batch.kind or None,
            genres=genres,
            known_genres=frozenset(genre_ids),
            keep_share=share,
        ),
        critic_for(batch.model_run, sampler) if share < 1 else None,
        chunk_size=chunk_size,
        # A visitor's pitch is written at the next pause point, not after the whole batch.
        pause=lambda: make_room(sampler),
    )
    used_chunk = sampler.last_chunk_size
    candidates = written.kept + written.held
    rows = [
        _description(batch, candidate, sampling, used_chunk, sampler.dtype)
        for candidate in candidates
    ]
    with transaction.atomic():
        _store(batch, rows, [candidate.item for candidate in candidates], genre_ids)
        GenerationBatch.objects.filter(pk=batch.pk).update(
            status=GenerationBatch.Status.DONE,
            sampling={**batch.sampling, "chunk_size": used_chunk, "dtype": sampler.dtype},
            accepted=len(written.kept),
            rejections=dict(written.rejections),
            finished_at=timezone.now(),
            error="",
        )
    batch.refresh_from_db()
    log.info("batch %s: %s accepted, rejections %s", batch.pk, batch.accepted, batch.rejections)
    return batch


def _description(
    batch: GenerationBatch,
    candidate: Candidate,
    sampling: SamplingSettings,
    chunk_size: int,
    dtype: str,
) -> GeneratedDescription:
    record = candidate.item.record
    return GeneratedDescription(
        title=record.title,
        kind=record.kind,
        text=record.description,
        text_hash=text_hash(record.description),
        model_run=batch.model_run,
        batch=batch,
        batch_row=candidate.item.sample.row,
        **GeneratedDescription.sampling_fields(sampling, chunk_size, dtype),
        **fields_for(candidate.check),
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
