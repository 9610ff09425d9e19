"""A real Chromium: load /, click "Another one", go Back, vote, and take a screenshot.

The screenshot goes to test-artifacts/; TMDNE_UPDATE_SCREENSHOT=1 writes the README's one instead.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory, GenreFactory, ModelRunFactory
from titles.models import Kind
from web.models import Vote

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = (
    ROOT / "docs" / "screenshot.png"
    if os.environ.get("TMDNE_UPDATE_SCREENSHOT") == "1"
    else ROOT / "test-artifacts" / "screenshot.png"
)
CARD = "[data-description-id]"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("TMDNE_BROWSER") == "" and not CHROMIUM.exists(),
        reason="TMDNE_BROWSER is empty and /usr/bin/chromium is missing (CI always has it)",
    ),
    pytest.mark.django_db(transaction=True),
]

# Invented titles and texts, written for this test.
SAMPLES = [
    (
        "The Lighthouse Accountant",
        Kind.MOVIE,
        ["Dramas", "Independent Movies"],
        "A lighthouse keeper with a gift for numbers audits the ghosts who haunt his island, "
        "and finds that one of them has been cooking the books for a century.",
    ),
    (
        "Pickle Street Irregulars",
        Kind.TV_SHOW,
        ["British TV Shows", "TV Comedies"],
        "Four retirees run a detective agency from the back of a pickle shop, solving crimes "
        "badly and arguing about brine.",
    ),
    (
        "Zero Gravity Bakery",
        Kind.MOVIE,
        ["Children & Family Movies", "Comedies"],
        "On a failing space station, a young baker must save the crew's morale one floating "
        "cake at a time.",
    ),
    (
        "Night Shift at the Wax Museum",
        Kind.TV_SHOW,
        ["TV Horror", "TV Mysteries"],
        "A night guard discovers that the wax figures rearrange themselves each night to spell "
        "out warnings about tomorrow's visitors.",
    ),
]


@pytest.fixture
def site(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A live server of our own, started after conftest switched the site to plain HTTP.

    pytest-django's live_server is session-scoped: its middleware would be built before that
    switch and redirect every request to HTTPS.
    """
    cache.clear()
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: None)
    run = ModelRunFactory.create()
    for title, kind, genres, text in SAMPLES:
        GeneratedDescriptionFactory.create(
            title=title,
            text=text,
            kind=kind,
            genres=[GenreFactory.create(name=g) for g in genres],
            model_run=run,
        )
    server = LiveServer("localhost:0")
    try:
        yield server.url
    finally:
        server.stop()


def card_id(page: Page) -> str:
    value = page.locator(CARD).get_attribute("data-description-id")
    assert value is not None, "the card has no data-description-id"
    return value


def test_a_visitor_clicks_another_one_goes_back_and_votes(site: str) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.on("console", lambda m: _note_error(m, problems))
            page.on("pageerror", lambda error: problems.append(str(error)))

            page.goto(f"{site}/")
            first = card_id(page)
            expect(page.locator(".copy-link")).to_be_visible()  # our script ran under the CSP

            page.get_by_role("link", name="Another one").click()
            expect(page.locator(CARD)).not_to_have_attribute("data-description-id", first)
            second = card_id(page)
            expect(page).to_have_url(f"{site}/d/{second}/")
            expect(page).to_have_title(re.compile(r" · This Movie Does Not Exist$"))

            page.go_back()
            expect(page).to_have_url(f"{site}/")
            expect(page.locator(CARD)).to_have_attribute("data-description-id", first)

            page.get_by_role("button", name="Would watch").click()
            expect(page.get_by_role("button", name="Would watch")).to_have_attribute(
                "aria-pressed", "true"
            )
            expect(page.locator(".feedback-status")).to_have_text("Glad you'd watch it.")

            page.mouse.move(0, 0)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()

    assert problems == []
    assert first != second
    assert Vote.objects.get().description_id == int(first)
    assert GeneratedDescription.objects.get(pk=first).up_votes == 1
    assert SCREENSHOT.stat().st_size < 300_000


def _note_error(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error":
        problems.append(message.text)
