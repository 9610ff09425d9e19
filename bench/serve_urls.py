"""The site's URLs plus /bench/baseline/: bench/serve.py's reference for `/`."""

import random

from django.core.cache import cache
from django.db.models import Max, Min
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.urls import urlpatterns as site
from generator.models import GeneratedDescription
from web.views import HtmxHttpRequest, page_context, with_card_relations
from web.walk import PoolFilter


@never_cache
@require_safe
def baseline(request: HtmxHttpRequest) -> HttpResponse:
    """The same page as `/` for get(pk=random id): no walk, no write."""
    bounds = cache.get_or_set(
        "web:bench-id-range",
        lambda: GeneratedDescription.objects.servable().aggregate(low=Min("pk"), high=Max("pk")),
        60,
    )
    if not bounds or bounds["low"] is None:
        raise Http404("The pool is empty.")
    pk = random.randint(bounds["low"], bounds["high"])
    try:
        description = with_card_relations(GeneratedDescription.objects.servable()).get(pk=pk)
    except GeneratedDescription.DoesNotExist:
        raise Http404("No description with that id.") from None
    return render(request, "home.html", page_context(request, description, PoolFilter()))


urlpatterns = [*site, path("bench/baseline/", baseline, name="bench-baseline")]
