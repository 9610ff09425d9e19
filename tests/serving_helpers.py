"""Invented generated descriptions for the serving and feedback tests (never real data set text)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from generator.ml.text import text_hash
from generator.models import GeneratedDescription, ModelRun, new_serve_key
from titles.models import Genre, Kind

_WHO = ("A retired lighthouse keeper", "Two rival beekeepers", "A nervous robot", "Five cousins")
_WHAT = ("inherits a haunted bakery", "races across a frozen lake", "forms a jazz band on the moon")
_WHY = ("to pay off a debt to a talking goose.", "before the tide turns purple.", "by Tuesday.")


def invented_text(number: int) -> str:
    who, what, why = next(itertools.islice(_combinations(), number % 36, None))
    return f"{who} {what} {why} (Invented story number {number}.)"


def _combinations() -> Iterable[tuple[str, str, str]]:
    return itertools.product(_WHO, _WHAT, _WHY)


def genre(name: str) -> Genre:
    return Genre.objects.get_or_create(name=name, defaults={"slug": Genre.slug_for(name)})[0]


def model_run() -> ModelRun:
    return ModelRun.objects.create(base="smollm2-135m-instruct", status=ModelRun.Status.DONE)


def make_description(
    title: str = "The Lighthouse Bakery",
    text: str | None = None,
    kind: str = Kind.MOVIE,
    genres: Iterable[Genre] = (),
    status: str = GeneratedDescription.Status.APPROVED,
    **fields: object,
) -> GeneratedDescription:
    number = GeneratedDescription.objects.count() + 1
    description = GeneratedDescription.objects.create(
        title=title,
        text=text if text is not None else invented_text(number),
        kind=kind,
        status=status,
        **fields,
    )
    description.genres.set(list(genres))
    return description


def make_pool(
    count: int,
    kind: str = Kind.MOVIE,
    genres: Iterable[Genre] = (),
    status: str = GeneratedDescription.Status.APPROVED,
    run: ModelRun | None = None,
) -> list[GeneratedDescription]:
    """`count` approved descriptions in one bulk insert, numbered after those already stored."""
    start = GeneratedDescription.objects.count()
    rows = []
    for number in range(start + 1, start + count + 1):
        text = invented_text(number)
        rows.append(
            GeneratedDescription(
                title=f"Invented Title {number}",
                text=text,
                text_hash=text_hash(text),
                kind=kind,
                status=status,
                model_run=run,
                serve_key=new_serve_key(),
            )
        )
    created = GeneratedDescription.objects.bulk_create(rows)
    genres = list(genres)
    if genres:
        through = GeneratedDescription.genres.through
        through.objects.bulk_create(
            [
                through(generateddescription_id=description.pk, genre_id=genre.pk)
                for description in created
                for genre in genres
            ]
        )
    return created
