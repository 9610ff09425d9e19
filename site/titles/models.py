from typing import Any

from django.db import models
from django.utils.text import slugify

from generator.ml.dataset import KIND_LABELS, MOVIE, TV_SHOW
from generator.ml.text import normalise


class Kind(models.TextChoices):
    MOVIE = MOVIE, KIND_LABELS[MOVIE]
    TV_SHOW = TV_SHOW, KIND_LABELS[TV_SHOW]


class GenreQuerySet(models.QuerySet["Genre"]):
    def get_or_create_many(self, names: set[str]) -> dict[str, "Genre"]:
        existing = {genre.name: genre for genre in self.filter(name__in=names)}
        missing = [Genre(name=name, slug=Genre.slug_for(name)) for name in names - set(existing)]
        Genre.objects.bulk_create(missing, ignore_conflicts=True)
        return {genre.name: genre for genre in self.filter(name__in=names)}


class Genre(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    objects = GenreQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def slug_for(name: str) -> str:
        return slugify(name.replace("&", "and"))[:100] or "genre"


class TrainingTitleQuerySet(models.QuerySet["TrainingTitle"]):
    def has_title(self, title: str) -> bool:
        """Whether `title` is a real title, folded as the overfit check folds titles."""
        key = TrainingTitle.key_for(title)
        return bool(key) and self.filter(title_key=key).exists()


class TrainingTitle(models.Model):
    """One real title from the training data: source material, never edited in the admin."""

    class Source(models.TextChoices):
        NETFLIX_CSV = "netflix-csv", "Netflix CSV"
        TEXT = "text", "Plain text"

    show_id = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True)
    title = models.CharField(max_length=300, blank=True)
    # The title folded (generator.ml.text.normalise): the one rule of "is a real title".
    title_key = models.CharField(max_length=300, blank=True, editable=False, db_index=True)
    description = models.TextField()
    genres = models.ManyToManyField(Genre, related_name="training_titles", blank=True)
    release_year = models.PositiveSmallIntegerField(null=True, blank=True)
    rating = models.CharField(max_length=20, blank=True)
    director = models.TextField(blank=True)
    cast = models.TextField(blank=True)
    country = models.TextField(blank=True)
    date_added = models.DateField(null=True, blank=True)
    duration = models.CharField(max_length=30, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    imported_at = models.DateTimeField(auto_now_add=True)

    objects = TrainingTitleQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return self.title or self.description[:60]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.title_key = self.key_for(self.title)
        super().save(*args, **kwargs)

    @staticmethod
    def key_for(title: str) -> str:
        return normalise(title)[:300]
