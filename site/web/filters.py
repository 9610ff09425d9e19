"""Kind and genre filters from the query string, and the chips that link between them.

Shared by the home page, Most wanted, Fresh and the API, so every list filters the same way.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.urls import reverse

from generator.models import GeneratedDescription
from titles.models import Genre, Kind
from web.walk import GenreChoice, PoolFilter

_GENRES_CACHE_KEY = "web:servable-genres"
_GENRES_CACHE_SECONDS = 60
_KIND_CHIPS = (("", "All"), (Kind.MOVIE, "Movies"), (Kind.TV_SHOW, "TV Shows"))


class BadFilter(ValueError):
    """A kind or genre in the query string that does not exist; the message says which."""


def pool_filter(request: HttpRequest) -> PoolFilter:
    kind = request.GET.get("kind", "")
    if kind and kind not in Kind.values:
        raise BadFilter(f'There is no kind "{kind[:40]}": use "movie" or "tv".')
    slug = request.GET.get("genre", "")
    genre = genre_by_slug(slug) if slug else None
    if slug and genre is None:
        raise BadFilter(f'There is no genre "{slug[:40]}". Pick one from the list.')
    return PoolFilter(kind=kind, genre=genre)


def genre_by_slug(slug: str) -> GenreChoice | None:
    for genre, _kinds in servable_genres():
        if genre.slug == slug:
            return genre
    # A genre with nothing servable yet is still a valid filter: it shows the empty state.
    row = Genre.objects.filter(slug=slug[:100]).values_list("pk", "slug", "name").first()
    return GenreChoice(*row) if row else None


def servable_genres() -> list[tuple[GenreChoice, frozenset[str]]]:
    """Genres with at least one servable description, and the kinds they have; cached a minute."""
    genres = cache.get(_GENRES_CACHE_KEY)
    if genres is None:
        servable = GeneratedDescription.objects.servable()
        rows = (
            Genre.objects.annotate(
                movie=Exists(servable.filter(kind=Kind.MOVIE, genres=OuterRef("pk"))),
                tv=Exists(servable.filter(kind=Kind.TV_SHOW, genres=OuterRef("pk"))),
            )
            .filter(Q(movie=True) | Q(tv=True))
            .order_by("name")
            .values_list("pk", "slug", "name", "movie", "tv")
        )
        genres = [
            (
                GenreChoice(pk, slug, name),
                frozenset(k for k, has in ((Kind.MOVIE, movie), (Kind.TV_SHOW, tv)) if has),
            )
            for pk, slug, name, movie, tv in rows
        ]
        cache.set(_GENRES_CACHE_KEY, genres, _GENRES_CACHE_SECONDS)
    return genres


def filter_chips(pool_filter: PoolFilter, url_name: str = "home") -> dict[str, Any]:
    """Chip links for the page named `url_name`: each chip keeps the visitor on that page."""
    # Links are built here, not with {% url %} per chip: reversing dominated the render time.
    base = reverse(url_name)
    genres = servable_genres()
    kinds_of = {genre.slug: kinds for genre, kinds in genres}
    kind_chips = []
    for kind, label in _KIND_CHIPS:
        # Keep the genre when it has texts of that kind; "TV Horror" under Movies would be empty.
        genre = pool_filter.genre
        keep = genre is not None and (not kind or kind in kinds_of.get(genre.slug, ()))
        target = PoolFilter(kind=kind, genre=genre if keep else None)
        kind_chips.append(
            {"label": label, "href": base + target.query, "on": pool_filter.kind == kind}
        )
    genre_chips = [
        {
            "label": genre.name,
            "href": base + PoolFilter(kind=pool_filter.kind, genre=genre).query,
            "on": pool_filter.genre == genre,
        }
        for genre, kinds in genres
        if not pool_filter.kind or pool_filter.kind in kinds
    ]
    return {
        "kind_chips": kind_chips,
        "genre_chips": genre_chips,
        "any_genre_href": base + PoolFilter(kind=pool_filter.kind).query,
        "next_href": base + pool_filter.query,
    }
