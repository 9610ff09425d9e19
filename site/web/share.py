"""Share cards on the site: the card's versioned URL and the view that serves its file.

The file is drawn by a worker (generator.cards) when the text goes public; the view never draws.
Until the file is there, the card URL sends the site's own card (static/img/share-card.png).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from generator.cards import CardFacts, card_path
from generator.models import GeneratedDescription
from titles.models import Genre

_IMMUTABLE = "public, max-age=31536000, immutable"


def card_url(description: GeneratedDescription, genres: Sequence[Genre]) -> str:
    """The card's path with its version: a new URL whenever what it shows changes."""
    return card_url_of(CardFacts.of(description, genres))


def card_url_of(facts: CardFacts) -> str:
    return f"{reverse('share-card', args=[facts.pk])}?v={facts.version}"


@require_safe
def share_card(request: HttpRequest, pk: int) -> HttpResponse:
    servable = GeneratedDescription.objects.servable().prefetch_related("genres")
    description = servable.filter(pk=pk).first()
    if description is None:
        raise Http404("No such description.")
    facts = CardFacts.of(description, list(description.genres.all()))
    if request.GET.get("v") != facts.version:
        # Only the current version is cached forever; anything else is sent to it, uncached.
        return _uncached(HttpResponseRedirect(card_url_of(facts)))
    path = card_path(facts)
    if not path.is_file():
        # Not drawn yet (the worker draws it in seconds): the site's own card, asked again later.
        return _uncached(HttpResponseRedirect(static("img/share-card.png")))
    response = HttpResponse(path.read_bytes(), content_type="image/png")
    response["Cache-Control"] = _IMMUTABLE
    return response


def _uncached(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response
