"""Most wanted (/best/) and Fresh (/fresh/): approved texts as paginated lists, with the chips.

Most wanted ranks by the lower bound of the Wilson score interval (z = 1.96) of up against down
votes, so 9 up and 1 down beats 1 up and 0 down. Each vote stores the text's score
(GeneratedDescription.wilson_score), so the database pages the whole set off an index and no
candidate cut-off can hide a text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from generator.models import GeneratedDescription
from generator.posters import poster_colour, poster_seed
from web.filters import BadFilter, filter_chips, pool_filter

Order = Callable[[QuerySet[GeneratedDescription]], QuerySet[GeneratedDescription]]
_PAGE_NUMBER = re.compile(r"^[0-9]{1,6}$")


def most_wanted_order(
    descriptions: QuerySet[GeneratedDescription],
) -> QuerySet[GeneratedDescription]:
    # The score each vote stores (generator.models.wilson_lower_bound), read off an index.
    return descriptions.order_by(
        F("wilson_score").desc(nulls_last=True), "-up_votes", "-created_at", "-pk"
    )


def newest_first(descriptions: QuerySet[GeneratedDescription]) -> QuerySet[GeneratedDescription]:
    return descriptions.order_by("-created_at", "-pk")


@require_safe
def most_wanted(request: HttpRequest) -> HttpResponse:
    return _listing(
        request,
        url_name="best",
        order=most_wanted_order,
        heading="Most wanted",
        lede="The films and shows visitors would most like to watch, ranked by their votes.",
    )


@require_safe
def fresh(request: HttpRequest) -> HttpResponse:
    return _listing(
        request,
        url_name="fresh",
        order=newest_first,
        heading="Fresh",
        lede="The newest descriptions, straight from the model and past the checks.",
    )


def _listing(
    request: HttpRequest, *, url_name: str, order: Order, heading: str, lede: str
) -> HttpResponse:
    try:
        chosen = pool_filter(request)
    except BadFilter as error:
        return _message(request, "No such filter", str(error), 400)
    number = request.GET.get("page", "1")
    if not _PAGE_NUMBER.match(number) or int(number) < 1:
        return _message(request, "No such page", "Pages are numbered 1, 2, 3 and so on.", 400)
    descriptions = order(chosen.apply(GeneratedDescription.objects.servable()))
    paginator = Paginator(descriptions.prefetch_related("genres"), settings.LIST_PAGE_SIZE)
    try:
        page = paginator.page(int(number))
    except EmptyPage:
        raise Http404("There is no page with that number.") from None
    base = reverse(url_name) + chosen.query
    context = {
        "heading": heading,
        "lede": lede,
        "ranked": url_name == "best",
        "filter": chosen,
        "page": page,
        "items": [_item(description, page, index) for index, description in enumerate(page)],
        "previous_href": _page_href(base, page.previous_page_number())
        if page.has_previous()
        else "",
        "next_page_href": _page_href(base, page.next_page_number()) if page.has_next() else "",
        **filter_chips(chosen, url_name),
    }
    return render(request, f"{url_name}.html", context)


def _item(description: GeneratedDescription, page: Page[Any], index: int) -> dict[str, Any]:
    genres = list(description.genres.all())
    wilson = description.wilson_score
    return {
        "description": description,
        "rank": page.start_index() + index,
        "genres": genres,
        "poster": poster_colour(poster_seed(description.kind, [genre.slug for genre in genres])),
        "permalink": reverse("permalink", args=[description.pk]),
        "score": None if wilson is None else round(wilson * 100),
    }


def _page_href(base: str, number: int) -> str:
    if number == 1:
        return base
    return f"{base}{'&' if '?' in base else '?'}page={number}"


def _message(request: HttpRequest, heading: str, detail: str, status: int) -> HttpResponse:
    return render(request, "message.html", {"heading": heading, "detail": detail}, status=status)
