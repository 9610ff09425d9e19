"""Pitches in the admin: what visitors asked for and what became of it (read-only).

Their texts are moderated where every text is: the descriptions' review queue ("pitched" filter).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from generator.models import Pitch


@admin.register(Pitch)
class PitchAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "genre", "status", "text", "created_at", "finished_at"]
    list_filter = ["status", "kind"]
    search_fields = ["title"]
    list_select_related = ["genre", "description"]
    fields = (
        "title",
        "kind",
        "genre",
        "status",
        "error",
        "text",
        "created_at",
        "started_at",
        "finished_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [str(name) for name in self.fields or ()]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="text")
    def text(self, obj: Pitch) -> str:
        if obj.description is None:
            return "–"
        url = reverse("admin:generator_generateddescription_change", args=[obj.description.pk])
        status = obj.description.get_status_display()
        return format_html('<a href="{}">{}</a> ({})', url, obj.description.title, status)
