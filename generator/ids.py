"""What a row id looks like wherever one arrives: a URL, a query parameter, a posted form."""

from __future__ import annotations

import re

from django.core.exceptions import BadRequest

# ASCII digits only ("²" and "١" are digits to int()), and never past a bigint key.
PATTERN = "[0-9]{1,18}"
_ID = re.compile(PATTERN)


def row_id(value: str) -> int | None:
    """`value` as a row id (keys start at 1), or None when it cannot be one."""
    if not _ID.fullmatch(value):
        return None
    number = int(value)
    return number or None


def required_id(value: str, what: str) -> int:
    """An id from a request, or a 400 that says what `what` should have been."""
    number = row_id(value)
    if number is None:
        raise BadRequest(f"{what} must be a positive number of at most 18 digits")
    return number


class IdConverter:
    """The URL converter `<id:pk>`: anything longer is a 404, never an overflow in the database."""

    regex = PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
