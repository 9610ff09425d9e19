"""factory_boy factories for the models the tests build; every text is invented.

Call `XFactory.create(...)`: mypy types it as the model, while `XFactory(...)` reads as the factory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import factory
from factory.django import DjangoModelFactory

from generator.ml.config import OWN_LOOP_SAMPLER
from generator.ml.text import text_hash
from generator.models import GeneratedDescription, ModelRun, Pitch, new_serve_key
from titles.models import Genre, Kind, TrainingTitle

_WHO = ("A retired lighthouse keeper", "Two rival beekeepers", "A nervous robot", "Five cousins")
_WHAT = ("inherits a haunted bakery", "races across a frozen lake", "forms a jazz band on the moon")
_WHY = ("to pay off a debt to a talking goose.", "before the tide turns purple.", "by Tuesday.")


def invented_text(number: int, series: str = "story") -> str:
    """A distinct invented description for every (number, series)."""
    who, what, why = next(itertools.islice(itertools.product(_WHO, _WHAT, _WHY), number % 36, None))
    return f"{who} {what} {why} (Invented {series} number {number}.)"


# Realism figures inside every QUALITY_* threshold: a run that may be activated without asking.
PASSING_REALISM: dict[str, Any] = {
    "discriminator_auc": 0.62,
    "distinct_2": 0.80,
    "real_distinct_2": 0.85,
    "length_distance": 0.1,
    "format_failure_rate": 0.0,
    "real_title_rate": 0.01,
    "copy_rate": 0.0,
    "embedding_auc": 0.64,
    "invented_word_rate": 0.01,
    "slip_rate": 0.0,
    "samples": 300,
}


class GenreFactory(DjangoModelFactory[Genre]):
    class Meta:
        model = Genre
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Invented Genre {n}")
    slug = factory.LazyAttribute(lambda genre: Genre.slug_for(genre.name))


class TrainingTitleFactory(DjangoModelFactory[TrainingTitle]):
    class Meta:
        model = TrainingTitle
        skip_postgeneration_save = True

    show_id = factory.Sequence(lambda n: f"s-test-{n}")
    kind = Kind.MOVIE
    title = factory.Sequence(lambda n: f"Invented Training Title {n}")
    description = factory.Sequence(invented_text)
    source = TrainingTitle.Source.NETFLIX_CSV

    @factory.post_generation
    def genres(self, create: bool, extracted: Iterable[Genre] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.genres.set(list(extracted))


class ModelRunFactory(DjangoModelFactory[ModelRun]):
    class Meta:
        model = ModelRun

    base = "smollm2-135m-instruct"
    status = ModelRun.Status.DONE


class GeneratedDescriptionFactory(DjangoModelFactory[GeneratedDescription]):
    """A stored generated text; approved unless told otherwise, so it is servable."""

    class Meta:
        model = GeneratedDescription
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Invented Title {n}")
    text = factory.Sequence(invented_text)
    kind = Kind.MOVIE
    status = GeneratedDescription.Status.APPROVED

    @factory.post_generation
    def genres(self, create: bool, extracted: Iterable[Genre] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.genres.set(list(extracted))


class PitchFactory(DjangoModelFactory[Pitch]):
    """A visitor's queued pitch; author_key is web.pitch_authors.author_key of some token."""

    class Meta:
        model = Pitch

    title = factory.Sequence(lambda n: f"The Invented Pitch {n}")
    kind = Kind.MOVIE
    author_key = factory.Sequence(lambda n: f"author-{n:028d}")
    seed = 5  # tests.conftest.PITCH_SEED: the same text every run


def batch_sampling(seed: int, **changes: Any) -> dict[str, Any]:
    """A batch's stored sampling settings for the tiny model: short rows, a fixed seed."""
    return {
        "temperature": 0.9,
        "top_p": 0.95,
        "top_k": 50,
        "repetition_penalty": 1.0,
        "max_new_tokens": 48,
        "seed": seed,
        "sampler_version": OWN_LOOP_SAMPLER,
        **changes,
    }


def make_pool(
    count: int,
    kind: str = Kind.MOVIE,
    genres: Sequence[Genre] = (),
    status: str = GeneratedDescription.Status.APPROVED,
    run: ModelRun | None = None,
) -> list[GeneratedDescription]:
    """`count` generated texts in one bulk insert (fast enough for pools of thousands)."""
    start = GeneratedDescription.objects.count()
    texts = {
        number: invented_text(number, "pool story")
        for number in range(start + 1, start + count + 1)
    }
    rows = [
        GeneratedDescription(
            title=f"Invented Pool Title {number}",
            text=texts[number],
            text_hash=text_hash(texts[number]),
            kind=kind,
            status=status,
            model_run=run,
            serve_key=new_serve_key(),
        )
        for number in texts
    ]
    created = GeneratedDescription.objects.bulk_create(rows)
    through = GeneratedDescription.genres.through
    through.objects.bulk_create(
        [
            through(generateddescription_id=description.pk, genre_id=genre.pk)
            for description in created
            for genre in genres
        ]
    )
    return created
