"""Thumbs up / down: one vote per client address and text, counted on the text with F()."""

import pytest
from django.test import Client
from django.utils import timezone

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory
from web.models import Vote

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
HTMX = {"HX-Request": "true"}


def counts(description: GeneratedDescription) -> tuple[int, int]:
    description.refresh_from_db()
    return description.up_votes, description.down_votes


def test_a_visitor_votes_once_per_description() -> None:
    description = GeneratedDescriptionFactory.create()
    visitor = Client()

    for _ in range(3):
        visitor.post(f"/d/{description.pk}/vote/", {"value": "up"}, headers=HTMX)

    assert counts(description) == (1, 0)
    assert Vote.objects.count() == 1


def test_changing_a_vote_moves_it_between_the_counts() -> None:
    description = GeneratedDescriptionFactory.create()
    visitor = Client()

    visitor.post(f"/d/{description.pk}/vote/", {"value": "up"}, headers=HTMX)
    visitor.post(f"/d/{description.pk}/vote/", {"value": "down"}, headers=HTMX)

    assert counts(description) == (0, 1)
    assert Vote.objects.get().value == "down"


def test_each_address_counts() -> None:
    description = GeneratedDescriptionFactory.create()

    for n, value in enumerate(("up", "up", "down")):
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        client.post(f"/d/{description.pk}/vote/", {"value": value}, headers=HTMX)

    assert counts(description) == (2, 1)


def test_an_htmx_vote_answers_with_the_feedback_block_pressed() -> None:
    description = GeneratedDescriptionFactory.create()

    answer = Client().post(f"/d/{description.pk}/vote/", {"value": "up"}, headers=HTMX)

    html = answer.content.decode()
    assert answer.status_code == 200
    assert html.lstrip().startswith('<div class="feedback">')
    assert 'value="up" aria-pressed="true"' in html
    assert 'value="down" aria-pressed="false"' in html
    assert "Glad you&#x27;d watch it." in html


def test_without_javascript_a_vote_redirects_back_to_the_permalink() -> None:
    description = GeneratedDescriptionFactory.create()
    visitor = Client()

    answer = visitor.post(f"/d/{description.pk}/vote/", {"value": "down"})
    page = visitor.get(answer.headers["Location"]).content.decode()

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/d/{description.pk}/"
    assert 'value="down" aria-pressed="true"' in page
    assert "Noted: not for you." in page


def test_votes_need_the_csrf_token() -> None:
    description = GeneratedDescriptionFactory.create()
    visitor = Client(enforce_csrf_checks=True)
    visitor.get(f"/d/{description.pk}/")
    token = visitor.cookies["csrftoken"].value

    refused = visitor.post(f"/d/{description.pk}/vote/", {"value": "up"}, headers=HTMX)
    accepted = visitor.post(
        f"/d/{description.pk}/vote/", {"value": "up"}, headers={**HTMX, "X-CSRFToken": token}
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert counts(description) == (1, 0)


def test_a_vote_needs_a_known_value() -> None:
    description = GeneratedDescriptionFactory.create()

    answer = Client().post(f"/d/{description.pk}/vote/", {"value": "sideways"})

    assert answer.status_code == 400
    assert counts(description) == (0, 0)


def test_hidden_texts_take_no_votes() -> None:
    held = GeneratedDescriptionFactory.create(status=GeneratedDescription.Status.PENDING)
    withdrawn = GeneratedDescriptionFactory.create(
        status=GeneratedDescription.Status.REJECTED, first_served_at=timezone.now()
    )

    assert Client().post(f"/d/{held.pk}/vote/", {"value": "up"}).status_code == 404
    assert Client().post(f"/d/{withdrawn.pk}/vote/", {"value": "up"}).status_code == 410
    assert Client().get(f"/d/{held.pk}/vote/").status_code == 405
    assert Vote.objects.count() == 0
