"""A real Chromium: "Another one" by click and key, Back, votes, sharing, reduced motion, axe.

Screenshots go to test-artifacts/; TMDNE_UPDATE_SCREENSHOT=1 writes the README's one instead.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from generator.models import GeneratedDescription
from tests.browser import ARTIFACTS, CARD, NEEDS_CHROMIUM, chromium, open_page, settle
from tests.factories import GeneratedDescriptionFactory, GenreFactory, ModelRunFactory
from titles.models import Kind
from web.models import Vote

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = (
    ROOT / "docs" / "screenshot.png"
    if os.environ.get("TMDNE_UPDATE_SCREENSHOT") == "1"
    else ROOT / "test-artifacts" / "screenshot.png"
)
DESKTOP: dict[str, Any] = {"viewport": {"width": 1200, "height": 800}}
# A phone: touch only, so `(hover: none)` matches as it does on a real one.
MOBILE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
# The stubbed share sheet records what our script hands it.
RECORD_SHARE = """
window.sharedWith = [];
Navigator.prototype.canShare = function () { return true; };
Navigator.prototype.share = function (data) {
  window.sharedWith.push(data);
  return Promise.resolve();
};
"""
NO_SHARE_SHEET = "delete Navigator.prototype.share; delete Navigator.prototype.canShare;"
NO_CLIPBOARD = NO_SHARE_SHEET + " delete Navigator.prototype.clipboard;"

pytestmark = [
    pytest.mark.browser,
    NEEDS_CHROMIUM,
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


def htmx_requests(page: Page) -> list[str]:
    """The URLs of the htmx requests the page makes from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "hx-request" in r.headers else None)
    return seen


def test_a_visitor_clicks_another_one_goes_back_and_votes(site: str) -> None:
    problems: list[str] = []
    with chromium() as browser:
        page = open_page(browser, problems, **DESKTOP)

        page.goto(f"{site}/")
        first = card_id(page)
        expect(page.locator(".share-button")).to_be_visible()  # our script ran under the CSP

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
        settle(page)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))

    assert problems == []
    assert first != second
    assert Vote.objects.get().description_id == int(first)
    assert GeneratedDescription.objects.get(pk=first).up_votes == 1
    assert SCREENSHOT.stat().st_size < 300_000


def test_n_is_another_one_except_with_a_modifier_or_in_a_field(site: str) -> None:
    problems: list[str] = []
    with chromium() as browser:
        page = open_page(browser, problems, init_script=NO_CLIPBOARD, **DESKTOP)
        page.goto(f"{site}/")
        another = page.get_by_role("link", name="Another one")
        expect(another).to_have_attribute("aria-keyshortcuts", "n")
        expect(page.locator(".shortcut-hint")).to_be_visible()
        expect(page.locator(".shortcut-hint")).to_have_text("or press N")
        first = card_id(page)
        requests = htmx_requests(page)

        # Keys are handled in order: had Shift+N or Ctrl+N fetched, it would be the first request.
        page.keyboard.press("Shift+N")
        page.keyboard.press("Control+n")
        page.keyboard.press("n")
        expect(page.locator(CARD)).not_to_have_attribute("data-description-id", first)
        second = card_id(page)
        expect(page).to_have_url(f"{site}/d/{second}/")
        assert requests == [f"{site}/"]

        # No clipboard here: Share shows the link, selected; an "n" typed into it stays there.
        page.get_by_role("button", name="Share").click()
        field = page.get_by_role("textbox", name="Link to this description")
        expect(field).to_be_visible()
        expect(field).to_be_focused()
        expect(field).to_have_value(f"{site}/d/{second}/")
        assert page.evaluate("window.getSelection().toString()") == f"{site}/d/{second}/"
        expect(page.locator(".copy-status")).to_have_text("Copy the selected link.")
        settle(page)
        ARTIFACTS.mkdir(exist_ok=True)
        # caret="initial": hiding the caret injects a style, which our CSP refuses.
        page.locator(CARD).screenshot(path=str(ARTIFACTS / "share-fallback.png"), caret="initial")
        page.keyboard.press("n")
        field.blur()
        page.keyboard.press("n")
        expect(page.locator(CARD)).not_to_have_attribute("data-description-id", second)
        assert requests == [f"{site}/", f"{site}/"]

        page.go_back()
        expect(page).to_have_url(f"{site}/d/{second}/")
        expect(page.locator(CARD)).to_have_attribute("data-description-id", second)

    assert problems == []


def test_share_opens_the_share_sheet_with_the_permalink_also_after_a_swap(site: str) -> None:
    problems: list[str] = []
    with chromium() as browser:
        page = open_page(browser, problems, init_script=RECORD_SHARE, **DESKTOP)
        page.goto(f"{site}/")
        first = card_id(page)
        title = page.locator(CARD).get_by_role("heading", level=1).inner_text()

        page.get_by_role("button", name="Share").click()
        page.wait_for_function("window.sharedWith.length === 1")

        page.keyboard.press("n")
        expect(page.locator(CARD)).not_to_have_attribute("data-description-id", first)
        second = card_id(page)
        page.get_by_role("button", name="Share").click()
        page.wait_for_function("window.sharedWith.length === 2")
        shared = page.evaluate("window.sharedWith")
        expect(page.locator(".copy-status")).to_be_empty()  # the sheet said it all

    assert problems == []
    assert shared[0]["url"] == f"{site}/d/{first}/"
    assert shared[0]["title"] == title
    assert shared[0]["text"].startswith(f"{title}: a ")
    assert shared[0]["text"].endswith(" that was never made.")
    assert shared[1]["url"] == f"{site}/d/{second}/"


def test_share_copies_the_permalink_where_there_is_no_share_sheet(site: str) -> None:
    pk = GeneratedDescription.objects.order_by("pk").values_list("pk", flat=True).first()
    problems: list[str] = []
    with chromium() as browser:
        page = open_page(
            browser,
            problems,
            init_script=NO_SHARE_SHEET,
            permissions=["clipboard-read", "clipboard-write"],
            **DESKTOP,
        )
        page.goto(f"{site}/d/{pk}/")
        page.get_by_role("button", name="Share").click()
        expect(page.get_by_role("status").filter(has_text="Link copied")).to_be_visible()
        copied = page.evaluate("navigator.clipboard.readText()")
        expect(page.locator(".share-url")).to_be_hidden()  # copied: no need to show it
        settle(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".share").screenshot(path=str(ARTIFACTS / "share-copied.png"))

    assert problems == []
    assert copied == f"{site}/d/{pk}/"


def test_reduced_motion_stops_the_card_fading_in(site: str) -> None:
    problems: list[str] = []
    durations = "['animationDuration', 'transitionDuration'].map((p) => getComputedStyle(el)[p])"
    with chromium() as browser:
        page = open_page(browser, problems, **DESKTOP)
        page.goto(f"{site}/")
        moving = page.locator(CARD).evaluate(f"(el) => {durations}")
        page.emulate_media(reduced_motion="reduce")
        still = page.locator(CARD).evaluate(f"(el) => {durations}")
        page.keyboard.press("n")
        page.wait_for_url(re.compile(r"/d/\d+/$"))
        swapped = page.locator(CARD).evaluate(f"(el) => {durations}")

    assert problems == []
    assert moving == ["0.3s", "0.2s"]
    assert still == ["0s", "0s"]
    assert swapped == ["0s", "0s"]


PAGES = ["home", "permalink", "best", "fresh", "about"]


@pytest.mark.parametrize("device", ["desktop", "mobile"])
def test_pages_pass_axe_with_no_serious_violations(site: str, device: str) -> None:
    pk = GeneratedDescription.objects.order_by("pk").values_list("pk", flat=True).first()
    paths = {
        "home": "/",
        "permalink": f"/d/{pk}/",
        "best": "/best/",
        "fresh": "/fresh/",
        "about": "/about/",
    }
    axe = Axe()
    serious: dict[str, list[str]] = {}
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = open_page(browser, problems, **(DESKTOP if device == "desktop" else MOBILE))
        for name in PAGES:
            page.goto(site + paths[name])
            settle(page)
            if name == "home":
                # The hint is for keyboards: a touch-only phone does not show it.
                hint = expect(page.locator(".shortcut-hint"))
                if device == "desktop":
                    hint.to_be_visible()
                else:
                    hint.to_be_hidden()
            results = axe.run(page).response
            assert len(results["passes"]) > 10, f"axe checked next to nothing on {name}"
            for review in results["incomplete"]:
                targets = ", ".join(str(node["target"]) for node in review["nodes"])
                print(f"{name}: axe could not decide {review['id']} on {targets}")
            for violation in results["violations"]:
                line = f"{name}: {violation['id']} ({violation['impact']}): " + ", ".join(
                    str(node["target"]) for node in violation["nodes"]
                )
                print(line)
                if violation["impact"] in ("serious", "critical"):
                    serious.setdefault(name, []).append(line)
            if device == "mobile" and name == "permalink":
                page.locator(
                    ".share"
                ).scroll_into_view_if_needed()  # the card's foot, above the bar
            # What a phone shows first; a full-page capture drops its touch emulation (hint shows).
            page.screenshot(
                path=str(ARTIFACTS / f"{name}-{device}.png"), full_page=device == "desktop"
            )

    assert problems == []
    assert serious == {}
