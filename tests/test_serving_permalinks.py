"""Permalinks: stable, shareable, with Open Graph tags; hidden texts are 404, withdrawn ones 410."""

import pytest
from django.test import Client
from django.utils import timezone

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, GenreFactory, ModelRunFactory
from titles.models import Kind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
Status = GeneratedDescription.Status


def test_a_permalink_shows_the_card_with_open_graph_and_twitter_tags() -> None:
    run = ModelRunFactory.create()
    description = GeneratedDescriptionFactory.create(
        title="Pickle Street Irregulars",
        text="Four retirees run a detective agency from a pickle shop, badly.",
        kind=Kind.TV_SHOW,
        genres=[GenreFactory.create(name="TV Comedies")],
        model_run=run,
    )

    page = Client().get(f"/d/{description.pk}/")

    html = page.content.decode()
    url = f"http://testserver/d/{description.pk}/"
    assert page.status_code == 200
    assert f'data-description-id="{description.pk}"' in html
    assert '<meta property="og:type" content="video.tv_show">' in html
    assert '<meta property="og:title" content="Pickle Street Irregulars">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert f'<link rel="canonical" href="{url}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert "detective agency from a pickle shop" in html
    assert f"model run #{run.pk} (smollm2-135m-instruct)" in html
    assert f'data-copy-url="{url}"' in html


def test_the_same_permalink_always_shows_the_same_description() -> None:
    description = GeneratedDescriptionFactory.create()
    visitor = Client()

    pages = [visitor.get(f"/d/{description.pk}/").content.decode() for _ in range(3)]

    assert all(f'data-description-id="{description.pk}"' in page for page in pages)
    description.refresh_from_db()
    assert description.times_served == 0  # opening a shared link is not a serve from the pool


@pytest.mark.parametrize("status", [Status.PENDING, Status.REJECTED, Status.OVERFIT])
def test_a_text_that_never_went_public_is_404(status: str) -> None:
    description = GeneratedDescriptionFactory.create(status=status)

    assert Client().get(f"/d/{description.pk}/").status_code == 404


@pytest.mark.parametrize("status", [Status.PENDING, Status.REJECTED])
def test_a_text_taken_down_after_going_public_is_410(status: str) -> None:
    description = GeneratedDescriptionFactory.create(status=status, first_served_at=timezone.now())

    page = Client().get(f"/d/{description.pk}/")

    assert page.status_code == 410
    assert "This one was withdrawn" in page.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/d/abc/",
        "/d/-1/",
        "/d/0/",
        "/d/1.5/",
        "/d/999999999999999999/",
        "/d/9223372036854775808/",
        "/d/" + "9" * 400 + "/",
        "/d/99999999999999999999999/vote/",
    ],
)
def test_odd_ids_are_404_never_500(path: str) -> None:
    GeneratedDescriptionFactory.create()

    assert Client().get(path).status_code == 404
