"""Content-Security-Policy (only the site's own scripts and styles) and request size limits."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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


class QueryStringLimitMiddleware:
    """No page takes more than a kind and a genre: an oversized query string is a clear 414."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING_BYTES:
            return HttpResponse(
                f"The query string is longer than {MAX_QUERY_STRING_BYTES} bytes.",
                status=414,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
