"""Fine-tuning runs, generation batches and the pool of generated descriptions."""

import math
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Count, F, FloatField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from generator.ml.config import SamplingSettings
from generator.ml.text import text_hash
from generator.signatures import normal_hash, shingles
from titles.models import Genre, Kind

# A running fine-tune writes a heartbeat at least every step; this much silence means it died.
MODEL_RUN_STALE_AFTER = timedelta(minutes=15)


class RunStatus(models.TextChoices):
    """The lifecycle of a fine-tuning run and of a generation batch (ModelRun.Status, .Status)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RunLifecycleQuerySet(models.QuerySet):
    """Fine-tuning run lifecycle: the active run, claiming, re-queueing, stale-run detection."""

    def active(self: "models.QuerySet[ModelRun]") -> "ModelRun | None":
        """The run generation uses, or None. Its checkpoint_path loads with from_pretrained."""
        return self.filter(is_active=True).first()

    def given_or_active(self: "models.QuerySet[ModelRun]", pk: int | None) -> "ModelRun | None":
        """Run `pk`, or the active run where no id is given; None when there is no such run."""
        return self.filter(pk=pk).first() if pk is not None else self.filter(is_active=True).first()

    def claim(self, pk: int) -> bool:
        """queued -> running for exactly one caller: two workers can never both run a run."""
        now = timezone.now()
        claimed = self.filter(pk=pk, status=ModelRun.Status.QUEUED).update(
            status=ModelRun.Status.RUNNING, error="", heartbeat_at=now, finished_at=None
        )
        if claimed:
            self.filter(pk=pk, started_at__isnull=True).update(started_at=now)
        return bool(claimed)

    def requeue(self, pk: int) -> bool:
        """failed -> queued, so a failed or interrupted run can resume from its checkpoint."""
        return bool(
            self.filter(pk=pk, status=ModelRun.Status.FAILED).update(status=ModelRun.Status.QUEUED)
        )

    def fail_stale(self) -> int:
        """Mark failed the running runs whose worker died without saying so (no heartbeat)."""
        cutoff = timezone.now() - MODEL_RUN_STALE_AFTER
        return self.filter(status=ModelRun.Status.RUNNING, heartbeat_at__lt=cutoff).update(
            status=ModelRun.Status.FAILED,
            finished_at=timezone.now(),
            error=(
                f"No heartbeat for {int(MODEL_RUN_STALE_AFTER.total_seconds() // 60)} minutes: "
                "the worker was lost. Resume it to continue from its last checkpoint."
            ),
        )


class ModelRunQuerySet(RunLifecycleQuerySet):
    def with_copy_rate(self) -> "ModelRunQuerySet":
        """Annotate outputs_total, outputs_overfit and copy_share (None without outputs)."""
        held = Q(descriptions__status=GeneratedDescription.Status.OVERFIT)
        return self.annotate(
            outputs_total=Count("descriptions"),
            outputs_overfit=Count("descriptions", filter=held),
        ).annotate(
            copy_share=Case(
                When(outputs_total=0, then=Value(None)),
                default=F("outputs_overfit") * 1.0 / F("outputs_total"),
                output_field=FloatField(),
            )
        )


class Activation(models.TextChoices):
    """What became of a run flagged activate_when_good once it was evaluated."""

    ACTIVATED = "activated", "Activated"
    REFUSED = "refused", "Refused"


class ModelRun(models.Model):
    """One fine-tuning run: hyperparameters, progress, curves, samples and its checkpoint."""

    Status = RunStatus

    base = models.CharField(max_length=300)
    hyperparameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    train_loss_curve = models.JSONField(default=list, blank=True)  # [[step, loss], ...]
    eval_loss_curve = models.JSONField(default=list, blank=True)  # [[step, loss], ...]
    base_eval_loss = models.FloatField(null=True, blank=True)
    samples = models.JSONField(default=list, blank=True)  # [{"step": n, "texts": [...]}, ...]
    tokens_per_second = models.FloatField(null=True, blank=True)
    checkpoint_path = models.CharField(max_length=500, blank=True)
    is_active = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    device = models.CharField(max_length=100, blank=True)
    train_records = models.PositiveIntegerField(null=True, blank=True)
    eval_records = models.PositiveIntegerField(null=True, blank=True)
    # generator.run_evaluation: Realism.as_dict() plus when, how sampled and the eval loss.
    realism = models.JSONField(default=dict, blank=True)
    # Why training stopped before its last step ("" when it ran them all), and whose weights
    # final/ holds: the best eval's step and loss (None: never evaluated).
    stop_reason = models.TextField(blank=True)
    best_step = models.PositiveIntegerField(null=True, blank=True)
    best_eval_loss = models.FloatField(null=True, blank=True)
    # Queued by `manage.py bootstrap`: its evaluation activates it if it passes the quality gate.
    activate_when_good = models.BooleanField(default=False)
    activation = models.CharField(max_length=9, choices=Activation.choices, blank=True)
    activation_problems = models.TextField(blank=True)  # why it was refused, for a person
    # Texts per batch that sampled fastest on the device that evaluated the run (measured there,
    # Sampler.measure_batch_size); top-ups ask for batches of this size. None: not measured.
    batch_size = models.PositiveIntegerField(null=True, blank=True)

    objects = ModelRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model_run"
            )
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk} ({self.base}, {self.get_status_display().lower()})"

    @property
    def last_train_loss(self) -> float | None:
        return self.train_loss_curve[-1][1] if self.train_loss_curve else None

    @property
    def last_eval_loss(self) -> float | None:
        return self.eval_loss_curve[-1][1] if self.eval_loss_curve else None

    @property
    def kept_eval_loss(self) -> float | None:
        """The held-out loss of the weights in final/: the best eval's, where training kept it."""
        return self.best_eval_loss if self.best_eval_loss is not None else self.last_eval_loss

    def activate(self) -> None:
        """Make this the one run generation uses: deactivate the others, activate it, atomically."""
        if self.status != ModelRun.Status.DONE or not self.checkpoint_path:
            raise ValueError(
                f"run #{self.pk} is {self.status}: only a finished run can be activated"
            )
        try:
            with transaction.atomic():
                ModelRun.objects.filter(is_active=True).exclude(pk=self.pk).update(is_active=False)
                ModelRun.objects.filter(pk=self.pk).update(is_active=True)
        except IntegrityError:
            raise ValueError(
                f"another run was activated at the same moment as run #{self.pk}; try again"
            ) from None
        self.is_active = True

    def copy_counts(self) -> tuple[int, int]:
        """(outputs held as overfit, all outputs), from with_copy_rate() when annotated."""
        total = getattr(self, "outputs_total", None)
        overfit = getattr(self, "outputs_overfit", None)
        if total is None or overfit is None:
            counts = self.descriptions.aggregate(
                total=Count("id"),
                overfit=Count("id", filter=Q(status=GeneratedDescription.Status.OVERFIT)),
            )
            total, overfit = counts["total"], counts["overfit"]
        return overfit, total

    def copy_rate(self) -> float | None:
        """Share of this run's outputs held as overfit; None before it has any."""
        overfit, total = self.copy_counts()
        return overfit / total if total else None

    @admin.display(description="copy rate", ordering="copy_share")
    def copy_rate_label(self) -> str:
        """For list_display; order by it with get_queryset() returning .with_copy_rate()."""
        overfit, total = self.copy_counts()
        if not total:
            return "–"
        return f"{overfit / total:.1%} ({overfit} of {total})"


class Pool(models.Model):
    """A pool of servable descriptions ("all", or one kind x genre) that beat keeps topped up."""

    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True)
    genre = models.ForeignKey(Genre, null=True, blank=True, on_delete=models.CASCADE)
    low_water = models.PositiveIntegerField()
    high_water = models.PositiveIntegerField()
    # Claimed with a conditional UPDATE so two top-ups never queue for the same shortfall.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Set when the pool drops below its low-water mark, cleared once it is back over the high one.
    refilling = models.BooleanField(default=False)
    last_topped_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class GenerationBatch(models.Model):
    """One request to the sampler; texts it wrote point back here so they can be reproduced."""

    Status = RunStatus

    model_run = models.ForeignKey(ModelRun, on_delete=models.CASCADE, related_name="batches")
    pool = models.ForeignKey(
        Pool, null=True, blank=True, on_delete=models.SET_NULL, related_name="batches"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True)
    genre = models.ForeignKey(Genre, null=True, blank=True, on_delete=models.SET_NULL)
    requested = models.PositiveIntegerField()
    sampling = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    accepted = models.PositiveIntegerField(default=0)
    rejections = models.JSONField(default=dict, blank=True)  # {"too_short": 3, ...}
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "generation batches"

    def __str__(self) -> str:
        return f"Batch #{self.pk}"


def rejection_counts(stored: object) -> dict[str, int]:
    """A batch's stored `rejections` as counts by reason, skipping anything that is not a count."""
    if not isinstance(stored, dict):
        return {}
    return {str(k): int(v) for k, v in stored.items() if isinstance(v, int) and v > 0}


class HealthSample(models.Model):
    """The site at one moment, taken every HEALTH_SAMPLE_INTERVAL by beat (generator.site_health):
    what the admin's "Site health" page charts over the last day."""

    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    # All views written so far: the difference between two samples is what was served between them.
    texts_served = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["taken_at"]
        verbose_name = "site health"
        verbose_name_plural = "site health"

    def __str__(self) -> str:
        return f"Sample at {self.taken_at:%Y-%m-%d %H:%M}"


class PoolLevel(models.Model):
    """A pool's fresh texts when a health sample was taken."""

    sample = models.ForeignKey(HealthSample, on_delete=models.CASCADE, related_name="pool_levels")
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="+")
    fresh = models.PositiveIntegerField()
    low_water = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "pool"], name="one_level_per_pool")
        ]

    def __str__(self) -> str:
        return f"{self.fresh} fresh"


SERVE_KEY_BITS = 62


def new_serve_key() -> int:
    """A random, permanent position in every visitor's walk through the pool (see web/walk.py)."""
    return secrets.randbits(SERVE_KEY_BITS)


WILSON_Z = 1.96


def wilson_lower_bound(up: int, down: int) -> float | None:
    """The lower bound of the Wilson score interval (z = 1.96) of up / (up + down): 9 up and 1
    down ranks above 1 up and 0 down. None without votes."""
    n = up + down
    if n == 0:
        return None
    p = up / n
    z2 = WILSON_Z * WILSON_Z
    spread = WILSON_Z * math.sqrt((p * (1 - p) + z2 / (4 * n)) / n)
    return (p + z2 / (2 * n) - spread) / (1 + z2 / n)


SERVE_UPDATE_CHUNK = 500  # ids per statement: well under SQLite's bound-parameter limit


def _chunks(ids: list[int]) -> list[list[int]]:
    size = SERVE_UPDATE_CHUNK
    return [ids[start : start + size] for start in range(0, len(ids), size)]


class GeneratedDescriptionQuerySet(models.QuerySet["GeneratedDescription"]):
    def servable(self) -> "GeneratedDescriptionQuerySet":
        """Texts a visitor may be shown."""
        return self.filter(status=GeneratedDescription.Status.APPROVED)

    def count_serves(self, counts: Mapping[int, int], first_at: datetime) -> None:
        """Add each text's views to its counter, one UPDATE per distinct count (nearly always
        one); a text never served before gets `first_at` as its first serve."""
        if len(counts) == 1:  # a view written in its own request: one row, one statement
            [(pk, count)] = counts.items()
            self._add_serves([pk], count, first_at)
            return
        by_count: defaultdict[int, list[int]] = defaultdict(list)
        for pk, count in counts.items():
            by_count[count].append(pk)
        with transaction.atomic():
            # Rows locked in id order first: an UPDATE locks them in scan order, so two
            # processes' flushes over the same rows could deadlock (PostgreSQL).
            for chunk in _chunks(sorted(counts)):
                list(self.select_for_update().filter(pk__in=chunk).order_by("pk").values("pk"))
            for count, pks in sorted(by_count.items()):
                for chunk in _chunks(sorted(pks)):
                    self._add_serves(chunk, count, first_at)

    def _add_serves(self, pks: list[int], count: int, first_at: datetime) -> None:
        self.filter(pk__in=pks).update(
            times_served=F("times_served") + count,
            first_served_at=Coalesce(F("first_served_at"), Value(first_at)),
        )

    def rescore(self, pk: int) -> None:
        """Bring the text's stored Wilson score up to its vote counters (call in the vote's
        transaction, after the counters' UPDATE, which holds the row until the commit)."""
        votes = self.select_for_update().filter(pk=pk).values_list("up_votes", "down_votes")
        for up, down in votes:
            self.filter(pk=pk).update(wilson_score=wilson_lower_bound(up, down))

    def report_hides_left(self) -> int:
        """Texts visitors' reports may still take down this hour, site-wide (REPORT_HIDES_PER_HOUR;
        0 or less: reports wait for a moderator)."""
        hidden = self.filter(hidden_at__gte=timezone.now() - timedelta(hours=1)).count()
        return int(settings.REPORT_HIDES_PER_HOUR) - hidden

    def store(
        self: "GeneratedDescriptionQuerySet",
        rows: Sequence["GeneratedDescription"],
        ignore_conflicts: bool = False,
    ) -> list["GeneratedDescription"]:
        """Insert new texts and their overfit signatures in one transaction (bulk_create's way).

        With ignore_conflicts a text already stored (same text_hash) is skipped, and keeps the
        signatures it was stored with. Once the transaction commits, signatures beyond the newest
        OVERFIT_POOL_INDEX_LIMIT texts are pruned (TextShingle.objects.prune).
        """
        for row in rows:
            row.text_hash = text_hash(row.text)
            row.normal_hash = normal_hash(row.text)
        with transaction.atomic():
            created = self.bulk_create(rows, ignore_conflicts=ignore_conflicts)
            stored = GeneratedDescription.objects.filter(
                text_hash__in=[row.text_hash for row in rows]
            ).only("pk", "text")
            indexed = set(
                TextShingle.objects.filter(description__in=stored).values_list(
                    "description_id", flat=True
                )
            )
            TextShingle.objects.index(row for row in stored if row.pk not in indexed)
            # Robust: a failed prune is logged and retried by the next store, never loses texts.
            transaction.on_commit(TextShingle.objects.prune, robust=True)
        return created


class GeneratedDescription(models.Model):
    """A description the model wrote. Only approved ones are ever shown to visitors."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        OVERFIT = "overfit", "Held: overfit"

    class OverfitReason(models.TextChoices):
        # The kinds of copy generator/ml/overfit.py tells apart, plus a near-duplicate of the pool.
        EXACT = "exact", "Exact copy"
        EDITED = "edited", "Edited copy"
        PARTIAL = "partial", "Copied passage"
        SPLICED = "spliced", "Spliced copy"
        TITLE = "title", "Real title"
        DUPLICATE = "duplicate", "Duplicate of a generated text"

    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    genres = models.ManyToManyField(Genre, related_name="generated_descriptions", blank=True)
    text = models.TextField()
    text_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The folded text's hash (generator.signatures): the overfit check's exact-copy lookup.
    normal_hash = models.BigIntegerField(null=True, blank=True, editable=False, db_index=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    featured = models.BooleanField(default=False)
    # Written for a title a visitor pitched (Pitch.description): labelled so on every page.
    pitched = models.BooleanField(default=False)

    model_run = models.ForeignKey(
        ModelRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="descriptions"
    )
    batch = models.ForeignKey(
        GenerationBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="descriptions",
    )
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    top_k = models.PositiveIntegerField(null=True, blank=True)
    repetition_penalty = models.FloatField(null=True, blank=True)
    min_p = models.FloatField(null=True, blank=True)
    max_new_tokens = models.PositiveIntegerField(null=True, blank=True)
    avoid_real_titles = models.BooleanField(null=True, blank=True)
    # generator.ml.config.SAMPLER_VERSIONS: which decoding loop drew the tokens.
    sampler_version = models.PositiveSmallIntegerField(null=True, blank=True)
    # What the sampler computed in (generator.ml.sampling.DTYPES): set with the chunk size.
    sampler_dtype = models.CharField(max_length=16, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    # Rows sampled together (chunk k seeded with seed + k) and this text's row among them.
    chunk_size = models.PositiveIntegerField(null=True, blank=True)
    batch_row = models.PositiveIntegerField(null=True, blank=True)

    overfit_score = models.FloatField(null=True, blank=True)
    nearest_show_id = models.CharField(max_length=32, blank=True)
    copied_span = models.TextField(blank=True)
    overfit_reason = models.CharField(max_length=16, choices=OverfitReason.choices, blank=True)
    # Set when the closest text is an earlier generated one rather than a training title.
    nearest_generated = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="near_duplicates"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    # A moderator's decision; re-checks (generator.moderation) leave the status of these alone.
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    moderated_at = models.DateTimeField(null=True, blank=True)

    times_served = models.PositiveIntegerField(default=0)
    first_served_at = models.DateTimeField(null=True, blank=True)
    up_votes = models.PositiveIntegerField(default=0)
    down_votes = models.PositiveIntegerField(default=0)
    # Lower bound of the Wilson interval of the votes (wilson_lower_bound), kept up to date by
    # each vote so that /best/ reads an index instead of scoring every text; NULL: no votes.
    wilson_score = models.FloatField(null=True, blank=True)
    report_count = models.PositiveIntegerField(default=0)
    # When visitors' reports took it down (web.models.ReportQuerySet.file); a moderator's
    # decision clears it. A hidden text is not fresh: pools refill around it.
    hidden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Unique so a visitor's cursor (the last key seen) orders the pool strictly.
    serve_key = models.BigIntegerField(unique=True, default=new_serve_key, editable=False)

    objects = GeneratedDescriptionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "kind"]),
            # /best/ and /fresh/ (and the feed) page through approved texts in these orders.
            models.Index(fields=["status", "wilson_score"], name="gd_most_wanted"),
            models.Index(fields=["status", "created_at"], name="gd_newest"),
            # The serving walk: "next key after the cursor" and "a least-served one" are seeks.
            models.Index(fields=["status", "serve_key"], name="gd_walk"),
            models.Index(fields=["status", "kind", "serve_key"], name="gd_walk_kind"),
            # Never-served texts only: an entry leaves once, at the first serve, so counting
            # serves writes no index (SQLite serialises writers; every serve is a write).
            models.Index(
                fields=["status", "serve_key"],
                condition=Q(first_served_at__isnull=True),
                name="gd_unserved",
            ),
            models.Index(
                fields=["status", "kind", "serve_key"],
                condition=Q(first_served_at__isnull=True),
                name="gd_unserved_kind",
            ),
            models.Index(fields=["status", "overfit_score"], name="gd_review"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Texts are never edited: a new one is indexed for the overfit check as it is created."""
        self.text_hash = text_hash(self.text)
        self.wilson_score = wilson_lower_bound(self.up_votes, self.down_votes)
        self.normal_hash = normal_hash(self.text)
        if not self._state.adding:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            super().save(*args, **kwargs)
            TextShingle.objects.index([self])

    # Every SamplingSettings field is a model field of the same name: a text is re-sampled whole.
    SAMPLING_FIELDS = tuple(field.name for field in dataclass_fields(SamplingSettings))

    @classmethod
    def sampling_fields(
        cls, sampling: SamplingSettings, chunk_size: int, dtype: str
    ) -> dict[str, Any]:
        """The model fields that record `sampling` and the chunk size and dtype it ran in."""
        return {**sampling.as_dict(), "chunk_size": chunk_size, "sampler_dtype": dtype}

    def sampling_settings(self) -> SamplingSettings:
        """The settings this text was sampled with; ValueError for texts stored before all were
        recorded.
        """
        values = {name: getattr(self, name) for name in self.SAMPLING_FIELDS}
        missing = sorted(name for name, value in values.items() if value is None)
        if missing:
            raise ValueError(f"text #{self.pk} was stored without {', '.join(missing)}")
        return SamplingSettings(**values)


class TextShingleQuerySet(models.QuerySet["TextShingle"]):
    def index(self: "TextShingleQuerySet", descriptions: Iterable[GeneratedDescription]) -> int:
        """Write the word-trigram signatures of stored texts; returns how many rows."""
        rows = [
            TextShingle(description_id=description.pk, shingle=shingle)
            for description in descriptions
            for shingle in sorted(shingles(description.text))
        ]
        self.bulk_create(rows, batch_size=2000)
        return len(rows)

    def prune(self, keep: int | None = None) -> int:
        """Drop the signatures of all but the newest `keep` texts (OVERFIT_POOL_INDEX_LIMIT)."""
        keep = settings.OVERFIT_POOL_INDEX_LIMIT if keep is None else keep
        if keep < 0:
            raise ImproperlyConfigured(f"OVERFIT_POOL_INDEX_LIMIT={keep} is below 0")
        newest = GeneratedDescription.objects.order_by("-pk").values_list("pk", flat=True)
        boundary = list(newest[keep : keep + 1])
        if not boundary:
            return 0
        deleted, _ = self.filter(description_id__lte=boundary[0]).delete()
        return deleted


class TextShingle(models.Model):
    """One word trigram of a generated text: the overfit check's index of the pool, in SQL.

    Only the newest OVERFIT_POOL_INDEX_LIMIT texts keep theirs; the rows go with their text.
    """

    description = models.ForeignKey(
        GeneratedDescription, on_delete=models.CASCADE, related_name="shingles"
    )
    shingle = models.BigIntegerField()  # generator.signatures.shingles: stable, 63 bits

    objects = TextShingleQuerySet.as_manager()

    class Meta:
        # Lookups go by shingle; with the id beside it, counting per text reads only the index.
        indexes = [models.Index(fields=["shingle", "description"], name="shingle_lookup")]

    def __str__(self) -> str:
        return f"{self.shingle} in #{self.description_id}"


# A pitch left running this long was lost with its worker: it may be claimed again.
PITCH_STALE_AFTER = timedelta(minutes=3)
PITCH_REQUEUE_AFTER = timedelta(minutes=1)
PITCH_EXPIRED = "It took too long to write this one: the writers were busy. Pitch it again."


def _pitch_deadline(now: datetime | None = None) -> datetime:
    """Pitches created before this have outlived PITCH_TIMEOUT: no one writes them any more."""
    return (now or timezone.now()) - timedelta(seconds=settings.PITCH_TIMEOUT)


PITCH_PUBLIC_ID_BYTES = 16


def new_pitch_public_id() -> str:
    """The unguessable id in a pitch's URL (the integer pk would let anyone walk them)."""
    return secrets.token_urlsafe(PITCH_PUBLIC_ID_BYTES)


def new_pitch_seed() -> int:
    return secrets.randbits(62)


def _worker_lost(now: datetime) -> Q:
    """Pitches marked running whose worker has not finished them in PITCH_STALE_AFTER: lost."""
    return Q(status=Pitch.Status.RUNNING, started_at__lt=now - PITCH_STALE_AFTER)


class PitchQuerySet(models.QuerySet["Pitch"]):
    def claim(self, pk: int) -> bool:
        """queued (or running but lost) -> running for exactly one caller, while its visitor
        may still be waiting (PITCH_TIMEOUT)."""
        now = timezone.now()
        claimable = Q(status=Pitch.Status.QUEUED) | _worker_lost(now)
        return bool(
            self.filter(claimable, pk=pk)
            .filter(created_at__gte=_pitch_deadline(now))
            .update(status=Pitch.Status.RUNNING, started_at=now)
        )

    def waiting(self) -> list[int]:
        """Ids of the queued pitches still in time, oldest first: what a running batch makes
        room for."""
        queued = self.filter(status=Pitch.Status.QUEUED, created_at__gte=_pitch_deadline())
        return list(queued.order_by("created_at", "pk").values_list("pk", flat=True))

    def backlog(self) -> int:
        """Pitches queued or being written and still in time: what the site-wide cap counts."""
        unfinished = self.filter(status__in=(Pitch.Status.QUEUED, Pitch.Status.RUNNING))
        return unfinished.filter(created_at__gte=_pitch_deadline()).count()

    def expire(self) -> int:
        """Fail the pitches no one will write in time (their visitor was told so at
        PITCH_TIMEOUT): queued ones never picked up, and running ones whose worker was lost."""
        now = timezone.now()
        unfinished = Q(status=Pitch.Status.QUEUED) | _worker_lost(now)
        return self.filter(unfinished, created_at__lt=_pitch_deadline(now)).update(
            status=Pitch.Status.FAILED, error=PITCH_EXPIRED, finished_at=now
        )

    def lost(self) -> list[int]:
        """Pitches in time that no worker holds: running ones whose worker was lost, and queued
        ones older than a minute (their message never reached the broker, or was dropped)."""
        now = timezone.now()
        stranded = _worker_lost(now) | Q(
            status=Pitch.Status.QUEUED, created_at__lt=now - PITCH_REQUEUE_AFTER
        )
        found = self.filter(stranded, created_at__gte=_pitch_deadline(now))
        return list(found.values_list("pk", flat=True))

    def fail(self, pk: int, message: str) -> None:
        self.filter(pk=pk, status=Pitch.Status.RUNNING).update(
            status=Pitch.Status.FAILED, error=message, finished_at=timezone.now()
        )


class Pitch(models.Model):
    """A title a visitor pitched; a worker writes its description (generator/pitches.py)."""

    Status = RunStatus

    public_id = models.CharField(
        max_length=32, unique=True, default=new_pitch_public_id, editable=False
    )
    title = models.CharField(max_length=80)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # The visitor's pick; None lets the worker choose one of the kind's common genres.
    genre = models.ForeignKey(Genre, null=True, blank=True, on_delete=models.SET_NULL)
    # A keyed hash of the author's random token (web/pitch.py): only they see it before approval.
    author_key = models.CharField(max_length=64, db_index=True, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)  # shown to the visitor: plain words, no internals
    description = models.OneToOneField(
        GeneratedDescription,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pitch",
    )
    seed = models.BigIntegerField(default=new_pitch_seed, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = PitchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "pitches"
        indexes = [models.Index(fields=["status", "created_at"], name="pitch_waiting")]

    def __str__(self) -> str:
        return f"Pitch #{self.pk}: {self.title}"

    @property
    def finished(self) -> bool:
        return self.status in (Pitch.Status.DONE, Pitch.Status.FAILED)
