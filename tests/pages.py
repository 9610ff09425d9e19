"""What the serving tests read off a rendered page: the card it shows and the end-of-lap notice."""

import re
from typing import Any

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


SEEN_TOKEN = re.compile(r'name="seen" value="([^"]+)"')


def report_token(client: Any, pk: int, **get_options: Any) -> str:
    """The report token the text's own page gives this client (reports need one)."""
    page = client.get(f"/d/{pk}/", **get_options).content.decode()
    match = SEEN_TOKEN.search(page)
    assert match is not None, f"no report form on /d/{pk}/: {page[:500]}"
    return match.group(1)


def token_for(address: str, description: Any) -> str:
    """The token a page showing `description` gave the client at `address` (once it has reported,
    its pages show no form, but a tab it kept open still holds one)."""
    from web.models import client_key, seen_token

    return seen_token(description, client_key(address))
