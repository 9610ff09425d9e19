"""/best/ ranks approved texts by the lower bound of the Wilson score interval of their votes."""

import math
import re
from typing import Any

import pytest
from django.test import Client

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, GenreFactory
from titles.models import Kind
from web.rankings import most_wanted_order

pytestmark = pytest.mark.django_db


def wilson_lower_bound(up: int, down: int, z: float = 1.96) -> float:
    n = up + down
    p = up / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)
    return (centre - spread) / (1 + z * z / n)


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="listing-title"><a href="[^"]+">([^<]+)</a>', html)


def test_nine_up_one_down_beats_one_up_and_fifty_forty() -> None:
    GeneratedDescriptionFactory.create(title="Fifty Forty", up_votes=50, down_votes=40)
    GeneratedDescriptionFactory.create(title="No Votes")
    GeneratedDescriptionFactory.create(title="One Up", up_votes=1, down_votes=0)
    GeneratedDescriptionFactory.create(title="Nine One", up_votes=9, down_votes=1)
    expected = sorted(
        [("Nine One", 9, 1), ("One Up", 1, 0), ("Fifty Forty", 50, 40)],
        key=lambda row: -wilson_lower_bound(row[1], row[2]),
    )
    assert [row[0] for row in expected] == ["Nine One", "Fifty Forty", "One Up"]

    page = Client().get("/best/")

    assert page.status_code == 200
    assert _titles(page.content.decode()) == ["Nine One", "Fifty Forty", "One Up", "No Votes"]


def test_the_database_score_is_the_wilson_lower_bound() -> None:
    for up, down in [(9, 1), (1, 0), (50, 40), (0, 3), (120, 7)]:
        GeneratedDescriptionFactory.create(up_votes=up, down_votes=down)

    ranked = most_wanted_order(GeneratedDescription.objects.all())
    rows = [(d.up_votes, d.down_votes, d.wilson_score) for d in ranked]

    for up, down, score in rows:
        assert score == pytest.approx(wilson_lower_bound(up, down), abs=1e-9)
    scores = [score for _up, _down, score in rows if score is not None]
    assert len(scores) == len(rows) and scores == sorted(scores, reverse=True)


def test_each_vote_keeps_the_stored_score_up_to_date() -> None:
    text = GeneratedDescriptionFactory.create()
    assert text.wilson_score is None

    for n in range(9):
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(f"/d/{text.pk}/vote/", {"value": "up"})
    Client(REMOTE_ADDR="198.51.100.50").post(f"/d/{text.pk}/vote/", {"value": "down"})
    text.refresh_from_db()
    assert (text.up_votes, text.down_votes) == (9, 1)
    assert text.wilson_score == pytest.approx(wilson_lower_bound(9, 1), abs=1e-9)

    # A changed vote moves the score too.
    Client(REMOTE_ADDR="198.51.100.50").post(f"/d/{text.pk}/vote/", {"value": "up"})
    text.refresh_from_db()
    assert text.wilson_score == pytest.approx(wilson_lower_bound(10, 0), abs=1e-9)


def test_only_approved_texts_and_the_chips_filter() -> None:
    horror = GenreFactory.create(name="TV Horror")
    GeneratedDescriptionFactory.create(title="Held Back", up_votes=99, status="pending")
    GeneratedDescriptionFactory.create(title="Scary Show", kind=Kind.TV_SHOW, genres=[horror])
    GeneratedDescriptionFactory.create(title="A Movie", up_votes=3)

    everything = _titles(Client().get("/best/").content.decode())
    tv = Client().get(f"/best/?kind=tv&genre={horror.slug}").content.decode()

    assert everything == ["A Movie", "Scary Show"]
    assert _titles(tv) == ["Scary Show"]
    assert f'href="/best/?kind=tv&amp;genre={horror.slug}"' in tv  # chips stay on /best/
    assert Client().get("/best/?genre=no-such-genre").status_code == 400


def test_pages(settings: Any) -> None:
    settings.LIST_PAGE_SIZE = 2
    for votes in range(5):
        GeneratedDescriptionFactory.create(title=f"Votes {votes}", up_votes=votes)

    first = Client().get("/best/").content.decode()
    third = Client().get("/best/?page=3").content.decode()

    assert _titles(first) == ["Votes 4", "Votes 3"]
    assert 'href="/best/?page=2" rel="next"' in first
    assert _titles(third) == ["Votes 0"]
    assert Client().get("/best/?page=4").status_code == 404
    assert Client().get("/best/?page=two").status_code == 400
