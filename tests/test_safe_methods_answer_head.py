"""GET-only public pages answer HEAD like GET, without a body, and refuse other methods."""

from typing import Any

import pytest
from django.test import Client

from tests.factories import GeneratedDescriptionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]


@pytest.fixture(autouse=True)
def _security_contact(settings: Any) -> None:
    settings.SECURITY_CONTACT = "mailto:security@example.org"


def _paths() -> list[str]:
    description = GeneratedDescriptionFactory.create()
    return [
        "/",
        f"/d/{description.pk}/",
        "/about/",
        "/healthz/",
        "/robots.txt",
        "/sitemap.xml",
        "/sitemap-texts.xml",
        "/.well-known/security.txt",
    ]


def test_head_answers_like_get_without_a_body() -> None:
    for path in _paths():
        get = Client().get(path)
        head = Client().head(path)

        assert (path, get.status_code) == (path, 200)
        assert (path, head.status_code) == (path, 200)
        assert head["Content-Type"] == get["Content-Type"], path
        assert head.content == b"", path


def test_other_methods_are_refused() -> None:
    for path in _paths():
        for method in ("post", "put", "delete"):
            answer = getattr(Client(), method)(path)
            assert (path, method, answer.status_code) == (path, method, 405)
            assert "GET" in answer["Allow"] and "HEAD" in answer["Allow"]


def test_a_head_request_does_not_count_as_a_view() -> None:
    description = GeneratedDescriptionFactory.create()

    Client().head("/")

    description.refresh_from_db()
    assert description.times_served == 0 and description.first_served_at is None
