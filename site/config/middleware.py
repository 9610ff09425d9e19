"""Project middleware: the admin's one CSP relaxation, and request sanity limits."""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict

MAX_QUERY_STRING_BYTES = 2048
# Django's admin sets a few inline style attributes; its scripts stay same-origin only.
ADMIN_POLICY_UPDATE = {"style-src": [UNSAFE_INLINE]}


class AdminAwareCSPMiddleware(CSPMiddleware):
    """django-csp with CONTENT_SECURITY_POLICY everywhere, plus inline styles under ADMIN_URL."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        admin_prefix = "/" + settings.ADMIN_URL.lstrip("/")
        if request.path_info.startswith(admin_prefix) and parts.update is None:
            parts.update = ADMIN_POLICY_UPDATE
        return parts


class RequestSanityMiddleware:
    """Clear 4xx answers for requests no page can take, before any view or query sees them.

    No page takes more than a kind and a genre, so an oversized query string is a 414; a NUL
    character in a parameter is a 400 (PostgreSQL text cannot hold one).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING_BYTES:
            return _plain(f"The query string is longer than {MAX_QUERY_STRING_BYTES} bytes.", 414)
        if _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST)):
            return _plain("Parameters cannot contain NUL characters.", 400)
        return self.get_response(request)


def _has_nul(parameters: QueryDict) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in parameters.lists()
    )


def _plain(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
