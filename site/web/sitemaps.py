"""sitemap.xml: the visitor pages and the permalinks of approved texts, never a hidden one."""

from __future__ import annotations

from typing import Any

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from generator.models import GeneratedDescription


class PageSitemap(Sitemap):
    def items(self) -> list[str]:
        return ["home", "about"]

    def location(self, item: str) -> str:
        return reverse(item)


class TextSitemap(Sitemap):
    """Servable (approved) texts only; pk order keeps the pages of a long sitemap stable, and a
    page holds at most `limit` of them (the index lists every page)."""

    limit = 2000

    def items(self) -> Any:
        return GeneratedDescription.objects.servable().order_by("pk").only("pk")

    def location(self, item: GeneratedDescription) -> str:
        return reverse("permalink", args=[item.pk])


SITEMAPS = {"pages": PageSitemap, "texts": TextSitemap}
