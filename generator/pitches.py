"""A visitor's pitched title written up by the model: sample, screen, overfit check, store.

Runs on the gpu worker, from the `generator.pitch` task or from inside a running pool batch
(pipeline.py passes `run_waiting` as the sampler's pause, so a pitch never waits a whole batch).
Each pitch is claimed with a conditional UPDATE: whichever caller gets it runs it, the other does
nothing. Services return results and never queue tasks.
"""

from __future__ import annotations

import logging
import random
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from generator.ml.config import SamplingSettings, temperature_range
from generator.ml.format import pitch_prompt
from generator.ml.sampling import Sampler, default_device, get_sampler, pitch_dtype
from generator.models import GeneratedDescription, ModelRun, Pitch
from generator.overfit_check import fields_for
from generator.writing import Candidate, Policy, critic_for, most_believable, write
from titles.models import Genre

log = logging.getLogger(__name__)

NO_MODEL = "No model is switched on yet, so nothing can be written. Try again later."
NOTHING_GOOD = "The model could not write one for this title; try another."
NO_GENRES = "The site has no genres to write in yet. Try again later."
BROKEN = "Something went wrong while writing this one. Try again in a minute."
# Genres the worker picks from when the visitor left it to the model: the kind's most common.
GENRE_CHOICES = 5


def run_pitch(pitch_id: int, sampler: Sampler | None = None) -> Pitch | None:
    """Write pitch `pitch_id`; None when another caller has it or it is finished already.

    `sampler` is the one a running batch already holds; another checkpoint's or dtype's is not
    used (see PITCH_DTYPE).
    """
    if not Pitch.objects.claim(pitch_id):
        log.info("pitch %s is taken or finished", pitch_id)
        return None
    pitch = Pitch.objects.select_related("genre").get(pk=pitch_id)
    try:
        _write(pitch, sampler)
    except SoftTimeLimitExceeded:
        # The task's (or the batch's) time is up: the pitch fails, the limit goes on up.
        Pitch.objects.fail(pitch_id, BROKEN)
        raise
    except Exception:
        log.exception("pitch %s failed", pitch_id)
        Pitch.objects.fail(pitch_id, BROKEN)
    pitch.refresh_from_db()
    return pitch


def run_waiting(sampler: Sampler, budget: float | None = None) -> list[int]:
    """Run queued pitches with `sampler` (a batch's pause point), oldest first, until `budget`
    seconds are spent (None: all of them); returns those it ran."""
    started = time.monotonic()
    ran = []
    for pitch_id in Pitch.objects.waiting():
        if budget is not None and time.monotonic() - started >= budget:
            break  # the rest wait for the next pause point, or their own task
        if run_pitch(pitch_id, sampler) is not None:
            ran.append(pitch_id)
    return ran


def make_room(sampler: Sampler) -> None:
    """A long sampling job's pause point: run waiting pitches for at most PITCH_PAUSE_BUDGET
    seconds; never fails the job, except when its time limit is up."""
    try:
        ran = run_waiting(sampler, settings.PITCH_PAUSE_BUDGET)
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # noqa: BLE001 - a pitch's trouble is the pitch's; the job goes on
        log.exception("running waiting pitches at a pause point failed")
        return
    if ran:
        log.info("wrote pitches %s at a pause point of a sampling job", ran)


def _write(pitch: Pitch, sampler: Sampler | None) -> None:
    run = ModelRun.objects.active()
    if run is None:
        Pitch.objects.fail(pitch.pk, NO_MODEL)
        return
    dtype = pitch_dtype(default_device(), settings.PITCH_DTYPE)
    if sampler is None or sampler.checkpoint != run.checkpoint_path or sampler.dtype != dtype:
        sampler = get_sampler(run.checkpoint_path, dtype)
    genre = pitch.genre or _genre_for(pitch)
    if genre is None:
        Pitch.objects.fail(pitch.pk, NO_GENRES)
        return
    sampling = pitch_sampling(pitch)
    count = settings.PITCH_CANDIDATES
    written = write(
        sampler,
        pitch_prompt(pitch.kind, [genre.name], pitch.title),
        count,
        sampling,
        Policy(
            kind=pitch.kind,
            genres=(genre.name,),
            known_genres=frozenset({genre.name}),
            blocklist=True,
        ),
        critic_for(run, sampler),
        chunk_size=count,
        quorum=settings.PITCH_QUORUM,
    )
    best = most_believable(written.kept)
    if best is None:
        Pitch.objects.fail(pitch.pk, NOTHING_GOOD)
        log.info("pitch %s: no candidate passed (%s)", pitch.pk, dict(written.rejections))
        return
    row = _description(pitch, run, sampling, count, best, sampler.dtype)
    with transaction.atomic():
        GeneratedDescription.objects.store([row])
        row = GeneratedDescription.objects.get(text_hash=row.text_hash)
        row.genres.add(genre)
        done = Pitch.objects.filter(pk=pitch.pk, status=Pitch.Status.RUNNING).update(
            status=Pitch.Status.DONE, description=row, error="", finished_at=timezone.now()
        )
        if not done:  # lost its claim meanwhile (stale, claimed again): keep nothing of ours
            transaction.set_rollback(True)


def _description(
    pitch: Pitch,
    run: ModelRun,
    sampling: SamplingSettings,
    chunk_size: int,
    best: Candidate,
    dtype: str,
) -> GeneratedDescription:
    """The row to store for the chosen candidate, published as PITCH_PUBLISH says."""
    return GeneratedDescription(
        title=pitch.title,
        kind=best.item.record.kind,
        text=best.text,
        pitched=True,
        model_run=run,
        batch_row=best.item.sample.row,
        **GeneratedDescription.sampling_fields(sampling, chunk_size, dtype),
        **fields_for(best.check, pitched=True),
    )


def pitch_sampling(pitch: Pitch) -> SamplingSettings:
    """Production sampling, seeded by the pitch (its temperature too)."""
    low, high = temperature_range(settings)
    temperature = round(random.Random(pitch.seed).uniform(low, high), 3)
    return SamplingSettings.from_settings(settings, temperature=temperature, seed=pitch.seed)


def _genre_for(pitch: Pitch) -> Genre | None:
    """One of the kind's most common training genres, drawn with the pitch's seed."""
    by_use = (
        Genre.objects.filter(training_titles__kind=pitch.kind)
        .annotate(titles=Count("training_titles"))
        .order_by("-titles", "name")
    )
    common: list[Genre] = list(by_use[:GENRE_CHOICES])
    common = common or list(Genre.objects.order_by("name")[:GENRE_CHOICES])
    return random.Random(pitch.seed).choice(common) if common else None
