"""/feed/: an Atom feed of the newest approved descriptions (django.contrib.syndication)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from generator.models import GeneratedDescription

FEED_ITEMS = 50
PITCHED_CATEGORY = "Pitched by a visitor"

# django-stubs types Feed by its item and object; at run time it is a plain class.
if TYPE_CHECKING:
    _Feed = Feed[GeneratedDescription, None]
else:
    _Feed = Feed


class NewDescriptionsFeed(_Feed):
    feed_type = Atom1Feed
    subtitle = "Films and TV shows that were never made, newest first."

    def title(self) -> str:
        return f"{settings.SITE_NAME}: fresh descriptions"

    def link(self) -> str:
        return reverse("fresh")

    def author_name(self) -> str:
        # Atom wants an author per feed or per entry; every entry here has the same one.
        return settings.SITE_NAME

    def items(self) -> QuerySet[GeneratedDescription]:
        newest = GeneratedDescription.objects.servable().order_by("-created_at", "-pk")
        return newest.prefetch_related("genres")[:FEED_ITEMS]

    def item_title(self, item: GeneratedDescription) -> str:
        # A visitor's title is never passed off as the model's own invention.
        return f"{item.title} (pitched by a visitor)" if item.pitched else item.title

    def item_description(self, item: GeneratedDescription) -> str:
        return item.text

    def item_link(self, item: GeneratedDescription) -> str:
        return reverse("permalink", args=[item.pk])

    def item_pubdate(self, item: GeneratedDescription) -> datetime:
        return item.created_at

    def item_updateddate(self, item: GeneratedDescription) -> datetime:
        return item.moderated_at or item.created_at

    def item_categories(self, item: GeneratedDescription) -> list[str]:
        genres = [genre.name for genre in item.genres.all()]
        return [*genres, PITCHED_CATEGORY] if item.pitched else genres
