"""Visitor feedback: one vote and one report per client address and description.

A client is its address (config.client.client_address) kept only as a keyed hash, so dropping
cookies does not make a new voter. Hiding rule: a text goes back to review at
REPORT_HIDE_THRESHOLD reports, and after a moderator approves it, at REPORT_HIDE_THRESHOLD new
reports plus one for every report the moderator overruled (3, 6, 12, ...).

A report is taken only from a client the text was shown to: each card carries a signed token of
the text, the text's hash and the client (`seen_token`), valid for REPORT_TOKEN_MAX_AGE, and the
report keeps the hash of what its reporter saw. Reports take down at most REPORT_HIDES_PER_HOUR
texts an hour across the site; past that they wait for a moderator and the admin says so.
"""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from config.client import network_of
from generator.models import GeneratedDescription

CLIENT_KEY_LENGTH = 32  # hex digits of HMAC-SHA256: 128 bits, plenty to keep clients apart
_CLIENT_KEY_SALT = "web.feedback.client"
_SEEN_SALT = "web.report.seen"


def client_key(address: str) -> str:
    """The keyed hash feedback is stored under; the raw address is never written anywhere."""
    secret = settings.FEEDBACK_HASH_KEY or settings.SECRET_KEY
    digest = salted_hmac(_CLIENT_KEY_SALT, network_of(address), secret=secret, algorithm="sha256")
    return digest.hexdigest()[:CLIENT_KEY_LENGTH]


def hide_threshold(description: GeneratedDescription) -> int:
    """Reports since the last approval that send the text back to review (see the module)."""
    overruled = 0
    if description.moderated_at is not None:
        overruled = Report.objects.filter(
            description_id=description.pk, created_at__lte=description.moderated_at
        ).count()
    return int(settings.REPORT_HIDE_THRESHOLD) + overruled


class VoteQuerySet(models.QuerySet["Vote", "Vote"]):
    def cast(self, description: GeneratedDescription, client: str, value: str) -> Vote:
        """Record a client's vote, or change it; the description's counters follow with F()."""
        counter: dict[str, str] = {Vote.Value.UP: "up_votes", Vote.Value.DOWN: "down_votes"}
        with transaction.atomic():
            mine = self.select_for_update().filter(description=description, client_key=client)
            vote: Vote | None = mine.first()
            if vote is None:
                try:
                    with transaction.atomic():
                        vote = self.create(description=description, client_key=client, value=value)
                except IntegrityError:
                    # The same client voting twice at once: the other request recorded it.
                    return self.get(description=description, client_key=client)
                _descriptions(description).update(**{counter[value]: F(counter[value]) + 1})
            elif vote.value != value:
                old = counter[vote.value]
                _descriptions(description).update(
                    **{old: Greatest(F(old) - 1, 0), counter[value]: F(counter[value]) + 1}
                )
                vote.value = value
                vote.save(update_fields=["value", "updated_at"])
            GeneratedDescription.objects.rescore(description.pk)
        return vote


def seen_token(description: GeneratedDescription, client: str) -> str:
    """What a card gives its client to report it with: this text, as shown, to this client."""
    return signing.TimestampSigner(salt=_SEEN_SALT).sign(
        f"{description.pk}:{description.text_hash}:{client}"
    )


def seen_text_hash(token: str, description: GeneratedDescription, client: str) -> str | None:
    """The hash of the text `client` was shown as `description`, from its token; None where the
    token is forged, expired, or was given for another text or client."""
    try:
        value = signing.TimestampSigner(salt=_SEEN_SALT).unsign(
            token, max_age=settings.REPORT_TOKEN_MAX_AGE
        )
    except signing.BadSignature:
        return None
    pk, _, rest = value.partition(":")
    shown_hash, _, shown_to = rest.partition(":")
    if pk != str(description.pk) or shown_to != client:
        return None
    return shown_hash


class Filed(StrEnum):
    """What became of a report."""

    RECORDED = "recorded"
    HIDDEN = "hidden"  # and it took the text down
    CAPPED = "capped"  # enough reports, but the hourly cap is reached: a moderator decides
    DUPLICATE = "duplicate"  # this client had reported the text already


class ReportQuerySet(models.QuerySet["Report", "Report"]):
    def file(
        self, description: GeneratedDescription, client: str, reason: str, seen_hash: str
    ) -> Filed:
        """Record a report (once per client); enough of them send the text back to review,
        within the site's hourly cap."""
        with transaction.atomic():
            try:
                with transaction.atomic():
                    self.create(
                        description=description,
                        client_key=client,
                        reason=reason,
                        seen_text_hash=seen_hash,
                    )
            except IntegrityError:
                return Filed.DUPLICATE
            _descriptions(description).update(report_count=F("report_count") + 1)
            current = _descriptions(description).only("pk", "moderated_at").first()
            if current is None:
                return Filed.RECORDED
            enough = GeneratedDescription.objects.servable().filter(
                pk=description.pk, report_count__gte=hide_threshold(current)
            )
            if not enough.exists():
                return Filed.RECORDED
            if GeneratedDescription.objects.report_hides_left() <= 0:
                return Filed.CAPPED
            # Conditional UPDATE: concurrent reports hide the text exactly once, and only if public.
            hidden = enough.update(
                status=GeneratedDescription.Status.PENDING, hidden_at=timezone.now()
            )
        return Filed.HIDDEN if hidden else Filed.RECORDED


def _descriptions(description: GeneratedDescription) -> models.QuerySet[GeneratedDescription]:
    return GeneratedDescription.objects.filter(pk=description.pk)


class Vote(models.Model):
    class Value(models.TextChoices):
        UP = "up", "Would watch"
        DOWN = "down", "Not for me"

    description = models.ForeignKey(
        GeneratedDescription, on_delete=models.CASCADE, related_name="votes"
    )
    client_key = models.CharField(max_length=CLIENT_KEY_LENGTH)
    value = models.CharField(max_length=4, choices=Value.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VoteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["description", "client_key"], name="one_vote_per_client"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_value_display()} on #{self.description_id}"


class Report(models.Model):
    class Reason(models.TextChoices):
        REAL_TITLE = "real_title", "It is a real title"
        OFFENSIVE = "offensive", "It is offensive"
        BROKEN = "broken", "The text is broken"

    description = models.ForeignKey(
        GeneratedDescription, on_delete=models.CASCADE, related_name="reports"
    )
    client_key = models.CharField(max_length=CLIENT_KEY_LENGTH)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    # The hash of the text its reporter was shown: a moderator who edited it since can tell.
    seen_text_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["description", "client_key"], name="one_report_per_client"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: #{self.description_id}"
