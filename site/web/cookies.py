"""The site's own cookies: signed, salted with their name, kept a year, out of reach of scripts."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

MAX_AGE = 365 * 24 * 3600


def read_signed(request: HttpRequest, name: str) -> str | None:
    """The cookie's value, or None when it is missing or its signature does not check out."""
    value = request.get_signed_cookie(name, default=None, salt=name)
    return value or None


def set_signed(response: HttpResponse, name: str, value: str) -> None:
    response.set_signed_cookie(
        name,
        value,
        salt=name,
        max_age=MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
