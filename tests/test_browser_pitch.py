"""A real Chromium pitches a title, watches its card appear in place, and checks who may see it.

The worker is this test itself: the pitch's Celery message is not sent (queueing is stubbed to
note the id), and once the browser shows the waiting state the test runs the `generator.pitch`
task body on the tiny trained model, the way the gpu worker would. The page's htmx poll (every
second) then swaps the finished card in. A moderator approves it in the admin, in another
browser context. Screenshots of both states go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connections
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

import generator.tasks
from generator.models import GeneratedDescription, Pitch
from tests.browser import ARTIFACTS, CARD, NEEDS_CHROMIUM, chromium, open_page, settle
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark

TITLE = "The Lighthouse at the End of the Week"

pytestmark = [
    pytest.mark.browser,
    NEEDS_CHROMIUM,
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


def _approve_in_the_admin(moderator: Page, url: str) -> None:
    """A moderator logs in and approves the pitch from the review list's row button."""
    User.objects.create_superuser("mod", "mod@example.org", "pw")
    moderator.goto(f"{url}/admin/generator/generateddescription/?pitched__exact=1")
    moderator.get_by_label("Username").fill("mod")
    moderator.get_by_label("Password").fill("pw")
    moderator.get_by_role("button", name="Log in").click()
    row = moderator.locator("#result_list tbody tr", has_text=TITLE)
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Approve").click()
    expect(moderator.locator(".messagelist")).to_contain_text(f"Approve: “{TITLE}”")
    moderator.screenshot(path=str(ARTIFACTS / "pitch-approved-admin.png"), full_page=True)


def test_a_visitor_pitches_a_title_and_only_they_see_it_until_it_is_approved(
    site: tuple[str, list[int]],
) -> None:
    url, queued = site
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        author = open_page(browser, problems, viewport={"width": 1200, "height": 900})
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
        settle(author)
        author.screenshot(path=str(ARTIFACTS / "pitch-card.png"), full_page=True)

        text_id = int(card.get_attribute("data-description-id") or 0)
        author.get_by_role("link", name="its private link").click()
        expect(author).to_have_url(f"{url}/d/{text_id}/")
        expect(author.locator(CARD)).to_contain_text("Pitched by a visitor")

        stranger = open_page(browser, problems, expect_http_errors=True)
        hidden = stranger.goto(f"{url}/d/{text_id}/")
        assert hidden is not None and hidden.status == 404
        hidden_pitch = stranger.goto(pitch_url)
        assert hidden_pitch is not None and hidden_pitch.status == 404

        text = GeneratedDescription.objects.get(pk=text_id)
        assert text.status == GeneratedDescription.Status.PENDING
        _approve_in_the_admin(open_page(browser, problems), url)
        # The ORM's connection inside Playwright's loop is not the one pytest-django closes: left
        # open, it keeps PostgreSQL from dropping the test database at the end of the session.
        connections.close_all()

        public = stranger.goto(f"{url}/d/{text_id}/")
        assert public is not None and public.status == 200
        expect(stranger.locator(CARD)).to_contain_text("Pitched by a visitor")
        expect(stranger.locator(CARD).locator("h1")).to_have_text(TITLE)

    assert problems == []
