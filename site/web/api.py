"""A read-only JSON API: a random approved description, or one by id.

Open to any origin (CORS `*`, on these routes only), rate-limited per client address, and every
answer, errors included, is JSON.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control, never_cache
from django_ratelimit.decorators import ratelimit  # type: ignore[import-untyped]

from generator.ids import row_id
from generator.models import SERVE_KEY_BITS, GeneratedDescription
from web.filters import BadFilter, pool_filter
from web.share import card_url

View = Callable[..., HttpResponse]
_SAFE = ("GET", "HEAD")
_ALLOWED = ", ".join((*_SAFE, "OPTIONS"))
_PREFLIGHT_SECONDS = 86400
_RATE_GROUP = "web:api"


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def cors(view: View) -> View:
    """Any origin may read these answers; OPTIONS is the preflight, other methods are a 405."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            response: HttpResponse = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = _ALLOWED
            response["Access-Control-Allow-Headers"] = "Accept, Content-Type"
            response["Access-Control-Max-Age"] = str(_PREFLIGHT_SECONDS)
        elif request.method not in _SAFE:
            response = _error(f"{request.method} is not allowed here: use GET.", 405)
        else:
            response = view(request, *args, **kwargs)
        response["Allow"] = _ALLOWED
        response["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapped


def _api_rate(group: str, request: HttpRequest) -> str:
    return f"{settings.API_RATE_LIMIT}/m"


def rate_limited(view: View) -> View:
    """At most API_RATE_LIMIT a minute per client address (config.client.client_address)."""
    # key="ip" reads RATELIMIT_IP_META_KEY, which names config.client.client_address.
    counted = ratelimit(group=_RATE_GROUP, key="ip", rate=_api_rate, method=_SAFE, block=False)

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "limited", False):
            response = _error(f"More than {settings.API_RATE_LIMIT} requests a minute.", 429)
            response["Retry-After"] = "60"
            return response
        return view(request, *args, **kwargs)

    limited: View = counted(wrapped)
    return limited


@cors
@rate_limited
@never_cache
def random_description(request: HttpRequest) -> HttpResponse:
    try:
        chosen = pool_filter(request)
    except BadFilter as error:
        return _error(str(error), 400)
    servable = GeneratedDescription.objects.servable()
    if not chosen.has_any(servable):
        return _error("No approved descriptions match that filter.", 404)
    # serve_key is random and permanent: the first key after a random point is a random text.
    pool = chosen.apply(servable).prefetch_related("genres").order_by("serve_key")
    pivot = secrets.randbits(SERVE_KEY_BITS)
    description = pool.filter(serve_key__gte=pivot).first() or pool.first()
    if description is None:
        return _error("No approved descriptions match that filter.", 404)
    return JsonResponse(_fields(request, description))


@cors
@rate_limited
@cache_control(public=True, max_age=60)
def description_detail(request: HttpRequest, ident: str) -> HttpResponse:
    pk = row_id(ident)
    if pk is None:
        return _error("A description id is a positive whole number.", 400)
    servable = GeneratedDescription.objects.servable().prefetch_related("genres")
    description = servable.filter(pk=pk).first()
    if description is None:
        return _error("No approved description has that id.", 404)
    return JsonResponse(_fields(request, description))


def _fields(request: HttpRequest, description: GeneratedDescription) -> dict[str, Any]:
    genres = list(description.genres.all())
    return {
        "id": description.pk,
        "title": description.title,
        "kind": description.kind,
        "genres": [{"slug": genre.slug, "name": genre.name} for genre in genres],
        "text": description.text,
        "permalink": request.build_absolute_uri(reverse("permalink", args=[description.pk])),
        "share_image": request.build_absolute_uri(card_url(description, genres)),
        "pitched": description.pitched,  # a visitor chose the title; the model wrote the rest
        "up_votes": description.up_votes,
        "down_votes": description.down_votes,
    }
