"""Property-based: no URL parameter, id or form value makes the site answer 500."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, GenreFactory

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["movie", "tv", "dramas", "", "0", "-1", "%00", "\x00", "../", "<script>"]),
)
ids = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet="0123456789abc%-", min_size=1, max_size=40),
)


@pytest.fixture
def seeded() -> GeneratedDescription:
    dramas = GenreFactory.create(name="Dramas")
    return GeneratedDescriptionFactory.create(genres=[dramas])


@FUZZ
@given(kind=values, genre_slug=values, extra=values)
@example(kind="", genre_slug="\x00", extra="")  # once a 500 on PostgreSQL
def test_home_filters_answer_a_page_or_a_clear_4xx(
    client: Client, seeded: GeneratedDescription, kind: str, genre_slug: str, extra: str
) -> None:
    response = client.get("/", {"kind": kind, "genre": genre_slug, "x": extra})

    assert response.status_code in (200, 204, 400), response.status_code
    if "\x00" in kind + genre_slug + extra:
        assert response.status_code == 400
        assert response.content == b"Parameters cannot contain NUL characters."
    elif response.status_code == 400:
        assert b'id="message-heading">No such filter</h1>' in response.content


@FUZZ
@given(description_id=ids, kind=values)
def test_permalinks_answer_a_page_or_a_clear_4xx(
    client: Client, seeded: GeneratedDescription, description_id: str, kind: str
) -> None:
    response = client.get(f"/d/{description_id}/", {"kind": kind})

    assert response.status_code in (200, 400, 404, 410), response.status_code


@FUZZ
@given(value=values, reason=values)
def test_feedback_values_answer_a_clear_4xx_or_are_taken(
    client: Client, seeded: GeneratedDescription, value: str, reason: str
) -> None:
    vote = client.post(f"/d/{seeded.pk}/vote/", {"value": value})
    report = client.post(f"/d/{seeded.pk}/report/", {"reason": reason})

    assert vote.status_code in (200, 400, 429), vote.status_code
    # 403: no report token (reports come from pages that showed the text).
    assert report.status_code in (200, 400, 403, 429), report.status_code


def test_an_oversized_query_string_is_a_414(client: Client) -> None:
    response = client.get("/", {"genre": "x" * 5000})

    assert response.status_code == 414
    assert b"longer than 2048 bytes" in response.content


def test_a_nul_character_in_a_parameter_is_a_400(
    client: Client, seeded: GeneratedDescription
) -> None:
    home = client.get("/", {"genre": "dra\x00mas"})
    vote = client.post(f"/d/{seeded.pk}/vote/", {"value": "up\x00"})

    assert (home.status_code, vote.status_code) == (400, 400)
    assert b"cannot contain NUL" in home.content
