"""Kind and genre filters: shareable in the URL, unseen within the filter, 400 when unknown."""

import pytest
from django.test import Client

from tests.factories import GenreFactory, make_pool
from tests.pages import CARD_ID, LAP_NOTICE, card_id, tag
from titles.models import Kind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]

POLL = {"HX-Request": "true", "HX-Trigger": "pool-empty"}


def card_ids(client: Client, url: str, views: int) -> list[int]:
    ids = []
    for _ in range(views):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert LAP_NOTICE not in html
        ids.append(card_id(html))
    return ids


def test_a_kind_filter_serves_only_that_kind() -> None:
    make_pool(10, kind=Kind.MOVIE)
    shows = {description.pk for description in make_pool(10, kind=Kind.TV_SHOW)}

    ids = card_ids(Client(), "/?kind=tv", 10)

    assert set(ids) == shows


def test_a_genre_filter_serves_that_genre_unseen_then_says_when_all_are_seen() -> None:
    horror, comedy = GenreFactory.create(name="TV Horror"), GenreFactory.create(name="TV Comedies")
    make_pool(15, kind=Kind.TV_SHOW, genres=[comedy])
    scary = {description.pk for description in make_pool(8, kind=Kind.TV_SHOW, genres=[horror])}
    visitor = Client()

    ids = card_ids(visitor, "/?kind=tv&genre=tv-horror", 8)
    after = visitor.get("/?kind=tv&genre=tv-horror").content.decode()

    assert sorted(ids) == sorted(scary)
    assert LAP_NOTICE in after
    assert "TV shows in TV Horror" in after


def test_each_filter_keeps_its_own_place() -> None:
    horror = GenreFactory.create(name="TV Horror")
    make_pool(6, kind=Kind.TV_SHOW, genres=[horror])
    make_pool(6, kind=Kind.MOVIE)
    visitor = Client()

    everything = card_ids(visitor, "/", 4)
    scary = card_ids(visitor, "/?genre=tv-horror", 6)
    everything += card_ids(visitor, "/", 8)

    assert len(set(everything)) == 12
    assert len(set(scary)) == 6


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?kind=documentary", "There is no kind &quot;documentary&quot;"),
        ("?genre=space-westerns", "There is no genre &quot;space-westerns&quot;"),
        ("?kind=tv&genre=" + "x" * 500, "There is no genre"),
    ],
)
def test_an_unknown_filter_is_a_400_with_a_clear_message(query: str, message: str) -> None:
    make_pool(1)

    for url in ("/", "/d/1/"):
        page = Client().get(url + query)
        assert page.status_code == 400
        assert message in page.content.decode()


def test_an_empty_filter_says_so_and_polls_until_fresh_ones_arrive() -> None:
    horror = GenreFactory.create(name="TV Horror")
    make_pool(3, kind=Kind.MOVIE)
    visitor = Client()

    page = visitor.get("/?kind=tv&genre=tv-horror").content.decode()
    still_empty = visitor.get("/?kind=tv&genre=tv-horror", headers=POLL)
    arrived = make_pool(1, kind=Kind.TV_SHOW, genres=[horror])[0]
    fresh = visitor.get("/?kind=tv&genre=tv-horror", headers=POLL)

    assert CARD_ID.search(page) is None
    assert "No fresh TV shows in TV Horror just now" in page
    poller = tag(r'<div class="card empty"[^>]*>', page)
    assert 'hx-trigger="every 10s"' in poller
    assert 'hx-get="/?kind=tv&amp;genre=tv-horror"' in poller
    assert still_empty.status_code == 204
    assert fresh.status_code == 200
    assert f'data-description-id="{arrived.pk}"' in fresh.content.decode()


def test_chips_are_shareable_links_and_show_which_filter_is_on() -> None:
    make_pool(2, kind=Kind.TV_SHOW, genres=[GenreFactory.create(name="TV Horror")])
    make_pool(2, kind=Kind.MOVIE, genres=[GenreFactory.create(name="Horror Movies")])

    html = Client().get("/?kind=tv").content.decode()

    assert '<a class="chip is-on" href="/?kind=tv" aria-current="true">TV Shows</a>' in html
    assert 'href="/?kind=tv&amp;genre=tv-horror"' in html
    assert "genre=horror-movies" not in html  # genres without TV shows are not offered under TV
