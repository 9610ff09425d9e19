"""'Another one' swaps only the card with htmx, pushes the permalink, works without JS."""

import re

import pytest
from django.test import Client

from tests.factories import make_pool
from tests.pages import card_id, tag

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]

HTMX = {"HX-Request": "true"}


def test_an_htmx_request_gets_only_the_card_and_pushes_its_permalink() -> None:
    make_pool(3)
    visitor = Client()
    visitor.get("/")

    partial = visitor.get("/", headers={**HTMX, "HX-Trigger": "another-one"})

    html = partial.content.decode()
    shown = card_id(html)
    assert partial.status_code == 200
    assert "<html" not in html
    assert "<nav" not in html  # the filters stay on the page; only the card region is swapped
    assert partial.headers["HX-Push-Url"] == f"/d/{shown}/"
    assert "HX-Request" in partial.headers["Vary"]


def test_the_page_has_a_live_card_region_and_a_plain_link_for_another_one() -> None:
    make_pool(1)

    html = Client().get("/").content.decode()

    assert 'id="card-region" class="card-region" aria-live="polite"' in html
    button = tag(r"<a id=\"another-one\"[^>]*>", html)
    assert 'href="/"' in button  # without JavaScript it is a link to a fresh page load
    assert 'hx-get="/"' in button
    assert 'hx-target="#card-region"' in button


def test_a_reload_shows_a_new_description() -> None:
    make_pool(2)
    visitor = Client()

    first = card_id(visitor.get("/").content.decode())
    second = card_id(visitor.get("/").content.decode())

    assert first != second


def test_a_history_restore_gets_the_whole_page() -> None:
    make_pool(1)

    page = Client().get("/", headers={**HTMX, "HX-History-Restore-Request": "true"})

    assert "<html" in page.content.decode()


def test_the_partial_updates_the_document_title() -> None:
    description = make_pool(1)[0]

    partial = Client().get("/", headers=HTMX).content.decode()

    assert f"<title>{description.title} · This Movie Does Not Exist</title>" in partial


@pytest.mark.parametrize("url", ["/", "/?kind=tv", "/about/", "permalink"])
def test_pages_carry_no_inline_script_or_style(url: str) -> None:
    description = make_pool(1)[0]
    if url == "permalink":
        url = f"/d/{description.pk}/"

    html = Client().get(url).content.decode()

    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "<style" not in html
    assert re.search(r"\sstyle=", html) is None
    assert re.search(r"\son[a-z]+=", html) is None
