"""What the serving tests read off a rendered page: the card it shows and the end-of-lap notice."""

import re

CARD_ID = re.compile(r'data-description-id="(\d+)"')
LAP_NOTICE = "You have seen every one of our"


def card_id(html: str) -> int:
    """The id of the description on the page; fails the test when the page shows none."""
    match = CARD_ID.search(html)
    assert match is not None, f"no card on the page: {html[:500]}"
    return int(match.group(1))


def tag(pattern: str, html: str) -> str:
    """The first tag matching `pattern`; fails the test when there is none."""
    match = re.search(pattern, html)
    assert match is not None, f"no {pattern!r} on the page: {html[:500]}"
    return match.group(0)
