"""Content-Security-Policy (only the site's own scripts and styles) and request size limits."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict

MAX_QUERY_STRING_BYTES = 2048

SITE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Django's admin sets a few inline style attributes; its scripts stay same-origin only.
ADMIN_POLICY = SITE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin_prefix = "/" + settings.ADMIN_URL.lstrip("/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = ADMIN_POLICY if request.path.startswith(self.admin_prefix) else SITE_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


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
