"""Visitor feedback in the admin: moderators read reports and votes (see setup_moderators)."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from web.models import Report, Vote

CLIENT_KEY_SHOWN = 10  # hex digits of a client's keyed hash: enough to tell clients apart


class _ReadOnly(admin.ModelAdmin):
    """Visitor feedback is evidence: moderators read it, they do not edit it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

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
