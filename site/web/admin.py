from django.contrib import admin
from django.http import HttpRequest

from web.models import Report, Vote


class _ReadOnly(admin.ModelAdmin):
    """Visitor feedback is evidence: moderators read it, they do not edit it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(_ReadOnly):
    list_display = ["description", "reason", "created_at"]
    list_filter = ["reason"]
    list_select_related = ["description"]
    search_fields = ["description__title", "description__text"]


@admin.register(Vote)
class VoteAdmin(_ReadOnly):
    list_display = ["description", "value", "updated_at"]
    list_filter = ["value"]
    list_select_related = ["description"]
    search_fields = ["description__title"]
