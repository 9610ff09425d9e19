"""Who pitched what: a random token in a signed cookie, stored on the pitch only as a keyed hash.

The author of a pitch, and no one else, may open it and its text's permalink before a moderator
approves it. Losing the cookie loses that preview, nothing else.
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

from generator.models import GeneratedDescription
from web.cookies import read_signed, set_signed

COOKIE = "tmdne_pitch_author"
_KEY_SALT = "web.pitch.author"


def author_key(token: str) -> str:
    return salted_hmac(_KEY_SALT, token, algorithm="sha256").hexdigest()[:32]


def request_author_token(request: HttpRequest) -> str | None:
    """The author token this request carries, or None without a valid (signed) one."""
    return read_signed(request, COOKIE)


def request_author_key(request: HttpRequest) -> str | None:
    token = request_author_token(request)
    return author_key(token) if token else None


def new_author_token() -> str:
    return secrets.token_urlsafe(24)


def remember_author(response: HttpResponse, token: str) -> None:
    set_signed(response, COOKIE, token)


def authors_preview(request: HttpRequest, pk: int) -> GeneratedDescription | None:
    """A pitched text still waiting for review, when this request comes from its author."""
    key = request_author_key(request)
    if key is None:
        return None
    waiting = GeneratedDescription.objects.filter(
        pk=pk, pitched=True, status=GeneratedDescription.Status.PENDING, pitch__author_key=key
    )
    return waiting.select_related("model_run").prefetch_related("genres").first()
