"""Share cards: each approved text has a 1200x630 PNG poster, named by its og:image tag, drawn
by a worker when the text goes public; a request never draws one."""

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from generator.cards import STRIPE_WIDTH
from generator.models import GeneratedDescription
from generator.posters import PALETTES, poster_colour
from tests.factories import GeneratedDescriptionFactory, GenreFactory
from titles.models import Kind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]
Status = GeneratedDescription.Status


@pytest.fixture(autouse=True)
def _cards_in_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.SHARE_CARD_DIR = tmp_path / "cards"
    return tmp_path / "cards"


def _draw(*descriptions: GeneratedDescription) -> None:
    """What the worker does once a text goes public (generator.tasks.draw_cards)."""
    from generator.tasks import draw_cards

    draw_cards.apply(args=([description.pk for description in descriptions],))


def _og_image(pk: int) -> str:
    html = Client().get(f"/d/{pk}/").content.decode()
    found = re.search(r'<meta property="og:image" content="([^"]+)">', html)
    assert found is not None
    twitter = re.search(r'<meta name="twitter:image" content="([^"]+)">', html)
    assert twitter is not None and twitter.group(1) == found.group(1)
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    return found.group(1)


def test_the_card_is_a_1200_by_630_png_in_the_genre_colour() -> None:
    genre = GenreFactory.create(name="TV Horror")
    description = GeneratedDescriptionFactory.create(
        title="The Lighthouse Keeps Counting", kind=Kind.TV_SHOW, genres=[genre]
    )

    _draw(description)
    url = _og_image(description.pk)
    card = Client().get(url)

    assert url.startswith(f"http://testserver/d/{description.pk}/card.png?v=")
    assert card.status_code == 200
    assert card["Content-Type"] == "image/png"
    assert card["Cache-Control"] == "public, max-age=31536000, immutable"
    image = Image.open(BytesIO(card.content))
    assert image.format == "PNG" and image.size == (1200, 630)
    colour = PALETTES[poster_colour(genre.slug)].top
    assert image.convert("RGB").getpixel((STRIPE_WIDTH // 2, 315)) == colour
    page = Client().get(f"/d/{description.pk}/").content.decode()
    assert f"poster-{poster_colour(genre.slug)}" in page  # the page's poster: the same colour


def test_the_card_is_drawn_once_and_kept_on_disk(_cards_in_tmp: Path) -> None:
    description = GeneratedDescriptionFactory.create()
    url = _og_image(description.pk)
    _draw(description)

    first = Client().get(url).content
    files = list(_cards_in_tmp.glob(f"{description.pk}-*.png"))
    second = Client().get(url).content

    assert len(files) == 1 and files[0].read_bytes() == first == second


def test_an_edit_gives_a_new_url_and_a_new_image(_cards_in_tmp: Path) -> None:
    description = GeneratedDescriptionFactory.create(title="Before The Edit")
    _draw(description)
    before = _og_image(description.pk)
    old_image = Client().get(before).content

    description.title = "After The Edit"
    description.save()
    _draw(description)
    after = _og_image(description.pk)
    new_image = Client().get(after).content

    assert after != before
    assert new_image != old_image
    assert len(list(_cards_in_tmp.glob(f"{description.pk}-*.png"))) == 1  # the old one is gone
    stale = Client().get(before)
    assert stale.status_code == 302 and stale["Location"] == after.removeprefix("http://testserver")
    assert "no-cache" in stale["Cache-Control"]


@pytest.mark.parametrize("status", [Status.PENDING, Status.OVERFIT, Status.REJECTED])
def test_texts_that_are_not_approved_have_no_card(status: str) -> None:
    description = GeneratedDescriptionFactory.create(status=status)

    assert Client().get(f"/d/{description.pk}/card.png").status_code == 404
    assert Client().get(f"/d/{description.pk}/card.png?v=anything").status_code == 404


def test_a_text_taken_down_loses_its_card_at_the_next_sweep(_cards_in_tmp: Path) -> None:
    from generator.tasks import sweep_cards

    description = GeneratedDescriptionFactory.create()
    _draw(description)
    assert Client().get(_og_image(description.pk)).status_code == 200

    GeneratedDescription.objects.filter(pk=description.pk).update(status=Status.PENDING)

    assert Client().get(f"/d/{description.pk}/card.png").status_code == 404
    assert sweep_cards.apply().get() == (0, 1)
    assert list(_cards_in_tmp.glob(f"{description.pk}-*.png")) == []


def test_a_request_never_draws_and_the_sweep_draws_what_is_missing(_cards_in_tmp: Path) -> None:
    from generator.tasks import sweep_cards

    descriptions = [GeneratedDescriptionFactory.create() for _ in range(3)]
    urls = [_og_image(description.pk) for description in descriptions]

    answers = [Client().get(url) for url in urls]

    # Not drawn yet: the site's own card, asked again later; nothing drawn on the request path.
    assert {answer.status_code for answer in answers} == {302}
    assert {answer["Location"] for answer in answers} == {"/static/img/share-card.png"}
    assert all("no-cache" in answer["Cache-Control"] for answer in answers)
    assert not _cards_in_tmp.exists() or not list(_cards_in_tmp.iterdir())
    assert Client().get("/d/999999/card.png").status_code == 404

    assert sweep_cards.apply().get() == (3, 0)
    assert [Client().get(url).status_code for url in urls] == [200, 200, 200]
    assert sweep_cards.apply().get() == (0, 0)  # idempotent


def test_a_moderators_approval_has_the_worker_draw_the_card(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    description = GeneratedDescriptionFactory.create(status=Status.PENDING)
    changelist = "/admin/generator/generateddescription/"

    with django_capture_on_commit_callbacks() as queued:
        admin_client.post(changelist, {"decide": f"approve:{description.pk}"})

    sent = [callback.__self__ for callback in queued if hasattr(callback, "__self__")]
    assert [(s.task, s.args) for s in sent] == [("generator.draw_cards", ([description.pk],))]


@pytest.mark.parametrize(
    "title",
    [
        "東京の夜 — Ночь в Токио 🎬 שלום עולם",
        "Supercalifragilisticexpialidocious" * 6,
        "A\u200bB\u202eC\ttab\nnewline",
        " ",
    ],
)
def test_any_unicode_title_or_long_text_still_makes_a_card(title: str) -> None:
    description = GeneratedDescriptionFactory.create(title=title, text="word " * 400)
    _draw(description)

    card = Client().get(_og_image(description.pk))

    assert card.status_code == 200
    assert Image.open(BytesIO(card.content)).size == (1200, 630)


def test_head_and_other_methods() -> None:
    description = GeneratedDescriptionFactory.create()
    _draw(description)
    url = _og_image(description.pk)

    head = Client().head(url)

    assert head.status_code == 200 and head.content == b""
    assert Client().post(url).status_code == 405
