"""A real Chromium pitches a title, watches its card appear in place, and checks who may see it.

The worker is this test itself: the pitch's Celery message is not sent (queueing is stubbed to
note the id), and once the browser shows the waiting state the test runs the `generator.pitch`
task body on the tiny trained model, the way the gpu worker would. The page's htmx poll (every
second) then swaps the finished card in. Approval goes through generator.moderation, the service
the admin's approve action calls. Screenshots of both states go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

import generator.tasks
from generator import moderation
from generator.models import GeneratedDescription, Pitch
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CARD = "[data-description-id]"
TITLE = "The Lighthouse at the End of the Week"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("TMDNE_BROWSER") == "" and not CHROMIUM.exists(),
        reason="TMDNE_BROWSER is empty and /usr/bin/chromium is missing (CI always has it)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_training_detector", "fixed_pitch_seed"),
]


@pytest.fixture
def site(
    transactional_db: None, active_run: Any, pitch_genres: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[int]]]:
    """A live server of our own (see test_browser_visitor.py) and the ids of pitches queued."""
    cache.clear()
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: None)
    queued: list[int] = []
    monkeypatch.setattr("generator.queueing.pitch_on_commit", queued.append)
    # The test plays the worker between browser steps, inside Playwright's event loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    server = LiveServer("localhost:0")
    try:
        yield server.url, queued
    finally:
        server.stop()


def _note_error(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error" and "404" not in message.text and "410" not in message.text:
        problems.append(message.text)


def _watch(page: Page, problems: list[str]) -> Page:
    page.on("console", lambda m: _note_error(m, problems))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def test_a_visitor_pitches_a_title_and_only_they_see_it_until_it_is_approved(
    site: tuple[str, list[int]],
) -> None:
    url, queued = site
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            author = _watch(browser.new_page(viewport={"width": 1200, "height": 900}), problems)
            author.goto(f"{url}/")
            author.get_by_role("link", name="Pitch your own").click()
            expect(author).to_have_url(f"{url}/pitch/")
            author.get_by_label("Title").fill(TITLE)
            author.get_by_label("Kind").select_option(label="TV Show")
            author.get_by_label("Genre").select_option(label="TV Horror")
            author.get_by_role("button", name="Write it").click()

            expect(author).to_have_url(re.compile(r"/pitch/[\w-]{20,}/$"))
            expect(author.locator("#pitch-progress")).to_contain_text("Waiting for the writer")
            author.screenshot(path=str(ARTIFACTS / "pitch-waiting.png"))
            pitch_url = author.url

            assert len(queued) == 1
            assert generator.tasks.pitch(queued[0]) == Pitch.Status.DONE  # the worker's turn

            card = author.locator(CARD)
            expect(card).to_be_visible(timeout=10_000)  # swapped in by the 1 s poll, no reload
            expect(author).to_have_url(pitch_url)
            expect(card.locator(".badge-pitched")).to_have_text("Pitched by a visitor")
            expect(card.locator("h1")).to_have_text(TITLE)
            author.mouse.move(0, 0)
            author.screenshot(path=str(ARTIFACTS / "pitch-card.png"), full_page=True)

            text_id = int(card.get_attribute("data-description-id") or 0)
            author.get_by_role("link", name="its private link").click()
            expect(author).to_have_url(f"{url}/d/{text_id}/")
            expect(author.locator(CARD)).to_contain_text("Pitched by a visitor")

            stranger = _watch(browser.new_context().new_page(), problems)
            hidden = stranger.goto(f"{url}/d/{text_id}/")
            assert hidden is not None and hidden.status == 404
            hidden_pitch = stranger.goto(pitch_url)
            assert hidden_pitch is not None and hidden_pitch.status == 404

            text = GeneratedDescription.objects.get(pk=text_id)
            assert text.status == GeneratedDescription.Status.PENDING
            moderator = User.objects.create_superuser("mod", "mod@example.org", "pw")
            moderation.decide([text], moderation.DECISIONS["approve"], moderator)

            public = stranger.goto(f"{url}/d/{text_id}/")
            assert public is not None and public.status == 200
            expect(stranger.locator(CARD)).to_contain_text("Pitched by a visitor")
            expect(stranger.locator(CARD).locator("h1")).to_have_text(TITLE)
        finally:
            browser.close()

    assert problems == []
