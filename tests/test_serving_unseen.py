"""Each visitor walks the pool without repeats until they have seen it all, in O(1) state."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generator.models import SERVE_KEY_BITS, GeneratedDescription
from tests.factories import GenreFactory, make_pool
from tests.pages import LAP_NOTICE, card_id
from web.walk import Cursor, GenreChoice, PoolFilter, Walk, _first

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]


def shown(client: Client, url: str = "/") -> tuple[int, bool]:
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    return card_id(html), LAP_NOTICE in html


def test_it_skips_seen_descriptions() -> None:
    pool = {description.pk for description in make_pool(200)}
    visitor = Client()

    seen = [shown(visitor) for _ in range(200)]

    ids = [pk for pk, _notice in seen]
    assert len(set(ids)) == 200
    assert set(ids) == pool
    assert not any(notice for _pk, notice in seen)


def test_it_says_so_and_starts_over_when_all_are_seen() -> None:
    pool = {description.pk for description in make_pool(5)}
    visitor = Client()
    first_lap = [shown(visitor)[0] for _ in range(5)]

    restart, notice = shown(visitor)
    second_lap = [restart] + [shown(visitor)[0] for _ in range(4)]

    assert set(first_lap) == pool
    assert notice
    assert len(set(second_lap)) == 5
    assert set(second_lap) == pool
    assert shown(visitor)[1]  # and the second lap ends the same way


def test_descriptions_added_mid_walk_never_cause_a_repeat() -> None:
    make_pool(50)
    visitor = Client()
    seen = [shown(visitor)[0] for _ in range(20)]
    make_pool(50)

    while True:
        pk, notice = shown(visitor)
        if notice:
            break
        seen.append(pk)
        assert len(seen) <= 100

    next_lap = [pk] + [shown(visitor)[0] for _ in range(99)]
    assert len(seen) == len(set(seen))
    assert set(next_lap) == set(GeneratedDescription.objects.values_list("pk", flat=True))


def test_new_visitors_start_with_never_served_descriptions() -> None:
    make_pool(40)
    GeneratedDescription.objects.update(times_served=7, first_served_at=timezone.now())
    fresh = {description.pk for description in make_pool(3)}

    firsts = {shown(Client())[0] for _ in range(3)}

    assert firsts == fresh


def test_once_all_were_served_new_visitors_lean_to_the_least_served() -> None:
    make_pool(200)
    GeneratedDescription.objects.update(times_served=50, first_served_at=timezone.now())
    least = set(GeneratedDescription.objects.values_list("pk", flat=True)[:10])
    GeneratedDescription.objects.filter(pk__in=least).update(times_served=1)

    firsts = [shown(Client())[0] for _ in range(100)]

    # 10 of 200 would be 5 starts in 100 by chance; starting at the least served of 8 random
    # keys makes it about 34.
    assert sum(pk in least for pk in firsts) >= 15


def test_visitor_state_stays_small_however_much_they_view() -> None:
    make_pool(60, genres=[GenreFactory.create(name="TV Horror")])
    visitor = Client()
    shown(visitor)
    one_view = len(visitor.cookies["tmdne_walk"].value)

    for _ in range(250):
        shown(visitor)
    many_views = len(visitor.cookies["tmdne_walk"].value)
    for kind in ("", "movie", "tv"):
        visitor.get("/", {"kind": kind, "genre": "tv-horror"})
        visitor.get("/", {"kind": kind})

    assert many_views <= one_view + 4  # only the lap counter's digits can grow
    assert len(visitor.cookies["tmdne_walk"].value) < 1024


def test_a_cursor_takes_the_same_room_whatever_its_keys() -> None:
    top = (1 << SERVE_KEY_BITS) - 1
    low = Walk().with_cursor("~", Cursor(start=5, last=-1))
    high = Walk().with_cursor("~", Cursor(start=top, last=top, wrapped=True))

    assert len(low.encode()) == len(high.encode())
    assert Walk.decode(low.encode()).get("~") == Cursor(start=5, last=-1)
    assert Walk.decode(high.encode()).get("~") == Cursor(start=top, last=top, wrapped=True)


def test_each_pick_costs_the_same_queries_however_long_the_history() -> None:
    make_pool(300)
    visitor = Client()
    shown(visitor)  # warms the genre cache

    def picks(count: int) -> list[int]:
        queries = []
        for _ in range(count):
            with CaptureQueriesContext(connection) as pick:
                shown(visitor)
            queries.append(len(pick))
        return queries

    early = picks(5)
    picks(190)
    late = picks(5)

    # The pick, the card's genres, the served count; once a lap, the pick that reaches the end
    # of the key space seeks once more from the bottom (web.walk): the only extra query.
    assert min(early) == min(late) and min(late) <= 3
    assert max(early + late) <= min(late) + 1


def test_a_tampered_or_foreign_cookie_starts_a_fresh_walk() -> None:
    make_pool(3)
    visitor = Client()
    visitor.cookies["tmdne_walk"] = "1/~.ffff.0.0.0:forged:signature"

    pk, notice = shown(visitor)

    assert pk in set(GeneratedDescription.objects.values_list("pk", flat=True))
    assert not notice


def query_plan(sql: str, params: tuple = ()) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.parametrize("kind", ["", "movie"])
@pytest.mark.parametrize("with_genre", [False, True])
def test_each_pick_is_an_index_seek_not_a_sort(kind: str, with_genre: bool) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("checks SQLite's query plan; PostgreSQL plans by table statistics")
    horror = GenreFactory.create(name="TV Horror")
    make_pool(50, kind="movie", genres=[horror])
    choice = PoolFilter(kind=kind, genre=None)
    if with_genre:
        choice = PoolFilter(kind=kind, genre=GenreChoice(horror.pk, horror.slug, horror.name))
    pool = choice.apply(GeneratedDescription.objects.servable())
    walk = pool.filter(serve_key__gt=12345).select_related("model_run").order_by("serve_key")
    lap_start = pool.filter(first_served_at__isnull=True, serve_key__gte=12345).order_by(
        "serve_key"
    )

    walk_plan = query_plan(*walk[:1].query.sql_with_params())
    lap_start_plan = query_plan(*lap_start[:1].query.sql_with_params())

    assert "TEMP B-TREE" not in walk_plan + lap_start_plan
    assert re.search(r"INDEX gd_walk(_kind)? ", walk_plan), walk_plan
    assert re.search(r"INDEX gd_unserved(_kind)? ", lap_start_plan), lap_start_plan
    assert _first(walk) is not None


def test_an_empty_genre_is_known_from_its_own_rows_not_by_probing_the_pool() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("checks SQLite's query plan; PostgreSQL plans by table statistics")
    empty = GenreFactory.create(name="TV Horror")
    make_pool(30, genres=[GenreFactory.create(name="Dramas")])
    choice = PoolFilter(genre=GenreChoice(empty.pk, empty.slug, empty.name))

    with CaptureQueriesContext(connection) as queries:
        assert not choice.has_any(GeneratedDescription.objects.servable())

    plan = query_plan(queries[0]["sql"])
    assert plan.startswith("SEARCH generator_generateddescription_genres USING"), plan
