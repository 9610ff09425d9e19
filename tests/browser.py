"""Shared pieces of the browser tests: Debian's Chromium, pages that collect console errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CARD = "[data-description-id]"
# Chromium logs a page that answers 404 or 410 as a console error; some tests expect those.
_HTTP_ERRORS = ("404", "410")

NEEDS_CHROMIUM = pytest.mark.skipif(
    os.environ.get("TMDNE_BROWSER") == "" and not CHROMIUM.exists(),
    reason="TMDNE_BROWSER is empty and /usr/bin/chromium is missing (CI always has it)",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium; Django's ORM stays outside this block (Playwright runs an event loop)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def open_page(
    browser: Browser, problems: list[str], expect_http_errors: bool = False, **options: Any
) -> Page:
    """A page in a fresh context whose console errors and uncaught exceptions land in problems."""
    init_script = options.pop("init_script", None)
    context = browser.new_context(**options)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.on("console", lambda m: _note_error(m, problems, expect_http_errors))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def settle(page: Page) -> None:
    """Wait for the card's fade-in to end, so screenshots and axe see the final colours."""
    page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished))")


def _note_error(message: ConsoleMessage, problems: list[str], expect_http_errors: bool) -> None:
    if message.type != "error":
        return
    if expect_http_errors and any(status in message.text for status in _HTTP_ERRORS):
        return
    problems.append(message.text)
