from django.db import models
from django.utils.text import slugify

from generator.ml.dataset import KIND_LABELS, MOVIE, TV_SHOW


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


class TrainingTitle(models.Model):
    """One real title from the training data: source material, never edited in the admin."""

    class Source(models.TextChoices):
        NETFLIX_CSV = "netflix-csv", "Netflix CSV"
        TEXT = "text", "Plain text"

    show_id = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True)
    title = models.CharField(max_length=300, blank=True)
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

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return self.title or self.description[:60]
