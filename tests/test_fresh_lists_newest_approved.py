"""/fresh/ lists approved texts newest first, paginated, with the kind and genre chips."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, GenreFactory
from titles.models import Kind

pytestmark = pytest.mark.django_db


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="listing-title"><a href="[^"]+">([^<]+)</a>', html)


def _made(title: str, hours_ago: int, **fields: Any) -> GeneratedDescription:
    description = GeneratedDescriptionFactory.create(title=title, **fields)
    created = timezone.now() - timedelta(hours=hours_ago)
    GeneratedDescription.objects.filter(pk=description.pk).update(created_at=created)
    return description


def test_newest_approved_first() -> None:
    _made("Old", 30)
    _made("Newest", 1)
    _made("Middle", 5)
    _made("Held", 0, status=GeneratedDescription.Status.OVERFIT)
    _made("Waiting", 0, status=GeneratedDescription.Status.PENDING)

    page = Client().get("/fresh/")

    assert page.status_code == 200
    assert _titles(page.content.decode()) == ["Newest", "Middle", "Old"]
    assert 'aria-current="page">Fresh</a>' in page.content.decode()


def test_chips_filter_and_link_back_to_fresh() -> None:
    comedy = GenreFactory.create(name="Comedies")
    _made("Funny Film", 2, genres=[comedy])
    _made("Serious Show", 1, kind=Kind.TV_SHOW)

    movies = Client().get("/fresh/?kind=movie").content.decode()
    comedies = Client().get(f"/fresh/?genre={comedy.slug}").content.decode()

    assert _titles(movies) == ["Funny Film"]
    assert _titles(comedies) == ["Funny Film"]
    assert 'href="/fresh/?kind=tv"' in movies
    assert Client().get("/fresh/?kind=opera").status_code == 400


def test_pages_and_an_empty_filter(settings: Any) -> None:
    settings.LIST_PAGE_SIZE = 2
    for hours in range(3):
        _made(f"Made {hours}h ago", hours)

    second = Client().get("/fresh/?kind=movie&page=2").content.decode()
    empty = Client().get("/fresh/?kind=tv")

    assert _titles(second) == ["Made 2h ago"]
    assert 'href="/fresh/?kind=movie" rel="prev"' in second
    assert empty.status_code == 200 and "Nothing here yet" in empty.content.decode()


def test_the_header_links_both_lists_and_the_feed() -> None:
    html = Client().get("/about/").content.decode()

    assert '<a href="/best/">Most wanted</a>' in html
    assert '<a href="/fresh/">Fresh</a>' in html
    assert 'rel="alternate" type="application/atom+xml"' in html and 'href="/feed/"' in html
