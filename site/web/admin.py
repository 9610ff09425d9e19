"""Visitor feedback in the admin: moderators read reports and votes (see setup_moderators)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from config.admin_site import ReadOnlyAdmin
from generator.admin.descriptions import GeneratedDescriptionAdmin
from generator.models import GeneratedDescription
from web.models import Report, Vote, hide_threshold

CLIENT_KEY_SHOWN = 10  # hex digits of a client's keyed hash: enough to tell clients apart


class _ReadOnly(ReadOnlyAdmin):
    """Visitor feedback is evidence: moderators read it, they do not edit it."""

    @admin.display(description="who", ordering="client_key")
    def who(self, obj: Report | Vote) -> str:
        """The shortened keyed hash, linking to everything that client sent."""
        changelist = reverse(f"admin:web_{obj._meta.model_name}_changelist")
        return format_html(
            '<a href="{}?client_key__exact={}">{}…</a>',
            changelist,
            obj.client_key,
            obj.client_key[:CLIENT_KEY_SHOWN],
        )


@admin.register(Report)
class ReportAdmin(_ReadOnly):
    list_display = ["description", "who", "reason", "created_at"]
    list_filter = ["reason", "created_at"]
    list_select_related = ["description"]
    search_fields = ["description__title", "description__text"]
    fields = readonly_fields = ("description", "who", "client_key", "reason", "created_at")


@admin.register(Vote)
class VoteAdmin(_ReadOnly):
    list_display = ["description", "who", "value", "updated_at"]
    list_filter = ["value"]
    list_select_related = ["description"]
    search_fields = ["description__title"]
    fields = readonly_fields = (
        "description",
        "who",
        "client_key",
        "value",
        "created_at",
        "updated_at",
    )


class ReportInline(admin.TabularInline):
    """Who (a shortened keyed hash of the address) reported the text, why and when."""

    model = Report
    fields = readonly_fields = ("who", "reason", "created_at")
    ordering = ["-created_at"]
    extra = 0
    can_delete = False
    verbose_name_plural = "visitor reports"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="who")
    def who(self, report: Report) -> str:
        return f"{report.client_key[:CLIENT_KEY_SHOWN]}…"


class DescriptionWithReportsAdmin(GeneratedDescriptionAdmin):
    """The generator's description admin with what visitors said (web sits above generator)."""

    inlines = [*GeneratedDescriptionAdmin.inlines, ReportInline]
    fieldsets = [
        (name, {**options, "fields": [*options["fields"], "hides_at"]})
        if name == "Visitors"
        else (name, options)
        for name, options in GeneratedDescriptionAdmin.fieldsets
    ]

    @admin.display(description="hidden for review at")
    def hides_at(self, obj: GeneratedDescription) -> str:
        return f"hidden at {hide_threshold(obj)} reports since the last approval"


admin.site.unregister(GeneratedDescription)
admin.site.register(GeneratedDescription, DescriptionWithReportsAdmin)
