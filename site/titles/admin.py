from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_site import ReadOnlyAdmin
from titles.models import Genre, TrainingTitle


class _ReadOnlyAdmin(ReadOnlyAdmin):
    """Source data comes from `manage.py import_titles`; the admin only reads it."""


@admin.register(TrainingTitle)
class TrainingTitleAdmin(_ReadOnlyAdmin):
    list_display = ["show_id", "title", "kind", "release_year", "rating", "genre_list"]
    list_filter = ["kind", "genres", "source", "rating"]
    search_fields = ["title", "description", "show_id"]
    search_help_text = "Search titles, descriptions and show ids"
    list_per_page = 50
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainingTitle]:
        return super().get_queryset(request).prefetch_related("genres")

    @admin.display(description="Genres")
    def genre_list(self, obj: TrainingTitle) -> str:
        return ", ".join(genre.name for genre in obj.genres.all())


@admin.register(Genre)
class GenreAdmin(_ReadOnlyAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
