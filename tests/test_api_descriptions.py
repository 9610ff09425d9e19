"""The read-only JSON API: a random approved text, one by id; CORS, JSON errors, a rate limit."""

from typing import Any

import pytest
from django.test import Client

from generator.models import SERVE_KEY_BITS, GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, GenreFactory
from titles.models import Kind

pytestmark = pytest.mark.django_db
FIELDS = {
    "id",
    "title",
    "kind",
    "genres",
    "text",
    "permalink",
    "share_image",
    "pitched",
    "up_votes",
    "down_votes",
}


def test_one_description_by_id_has_every_field() -> None:
    genre = GenreFactory.create(name="Sci-Fi Movies")
    description = GeneratedDescriptionFactory.create(
        title="Orbit of Crumbs", genres=[genre], up_votes=4, down_votes=1
    )

    answer = Client().get(f"/api/descriptions/{description.pk}")

    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == "*"
    body = answer.json()
    assert set(body) == FIELDS
    assert body["id"] == description.pk and body["title"] == "Orbit of Crumbs"
    assert body["kind"] == "movie" and body["text"] == description.text
    assert body["genres"] == [{"slug": genre.slug, "name": "Sci-Fi Movies"}]
    assert body["permalink"] == f"http://testserver/d/{description.pk}/"
    assert body["share_image"].startswith(f"http://testserver/d/{description.pk}/card.png?v=")
    assert (body["up_votes"], body["down_votes"]) == (4, 1)


@pytest.mark.parametrize("status", ["pending", "overfit", "rejected"])
def test_hidden_and_missing_texts_are_a_json_404(status: str) -> None:
    hidden = GeneratedDescriptionFactory.create(status=status)

    for path in (f"/api/descriptions/{hidden.pk}", "/api/descriptions/999999"):
        answer = Client().get(path)
        assert answer.status_code == 404
        assert answer["Content-Type"] == "application/json"
        assert "error" in answer.json()


@pytest.mark.parametrize("ident", ["abc", "0", "1" * 19, "-3", "1.5"])
def test_an_id_that_is_not_an_id_is_a_json_400(ident: str) -> None:
    answer = Client().get(f"/api/descriptions/{ident}")

    assert answer.status_code == 400 and "error" in answer.json()


def test_random_follows_the_filters() -> None:
    horror = GenreFactory.create(name="TV Horror")
    show = GeneratedDescriptionFactory.create(kind=Kind.TV_SHOW, genres=[horror])
    # A random point picks the next key, so a movie's chance is the gap before its key: random
    # keys can leave one gap most of the range, and 20 draws then see a single movie.
    movies = {
        GeneratedDescriptionFactory.create(serve_key=i * 2**SERVE_KEY_BITS // 3).pk
        for i in range(3)
    }
    GeneratedDescriptionFactory.create(
        kind=Kind.TV_SHOW, status=GeneratedDescription.Status.PENDING
    )

    seen_movies = {
        Client().get("/api/descriptions/random?kind=movie").json()["id"] for _ in range(20)
    }
    tv = Client().get(f"/api/descriptions/random?kind=tv&genre={horror.slug}")
    anything = Client().get("/api/descriptions/random")

    assert seen_movies <= movies and len(seen_movies) > 1
    assert tv.json()["id"] == show.pk and set(tv.json()) == FIELDS
    assert anything.status_code == 200 and anything["Cache-Control"].startswith("max-age=0")


def test_random_with_nothing_to_give_and_bad_filters() -> None:
    GenreFactory.create(name="Empty Genre")

    nothing = Client().get("/api/descriptions/random")
    empty_genre = Client().get("/api/descriptions/random?genre=empty-genre")
    bad_kind = Client().get("/api/descriptions/random?kind=opera")
    bad_genre = Client().get("/api/descriptions/random?genre=nope")

    assert nothing.status_code == 404 and "error" in nothing.json()
    assert empty_genre.status_code == 404 and "error" in empty_genre.json()
    assert bad_kind.status_code == 400 and "opera" in bad_kind.json()["error"]
    assert bad_genre.status_code == 400 and bad_genre["Access-Control-Allow-Origin"] == "*"


def test_cors_preflight_and_methods() -> None:
    description = GeneratedDescriptionFactory.create()
    path = f"/api/descriptions/{description.pk}"

    preflight = Client().options(
        path, headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    )
    head = Client().head(path)
    post = Client().post(path)

    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    assert head.status_code == 200 and head.content == b""
    assert post.status_code == 405 and post.json()["error"]
    assert post["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in Client().get(f"/d/{description.pk}/")


def test_a_client_over_the_rate_limit_gets_429_and_others_do_not(settings: Any) -> None:
    settings.API_RATE_LIMIT = 3
    description = GeneratedDescriptionFactory.create()
    path = f"/api/descriptions/{description.pk}"
    greedy = Client(REMOTE_ADDR="203.0.113.7")

    answers = [greedy.get(path).status_code for _ in range(4)]
    preflight = greedy.options(path)
    other = Client(REMOTE_ADDR="198.51.100.2").get(path)

    assert answers == [200, 200, 200, 429]
    limited = greedy.get(path)
    assert limited.status_code == 429 and "error" in limited.json()
    assert limited["Retry-After"] == "60" and limited["Access-Control-Allow-Origin"] == "*"
    assert preflight.status_code == 204  # a preflight is not counted or refused
    assert other.status_code == 200
