"""Visitor feedback: one vote and one report per visitor and description."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.db.models.functions import Greatest

from generator.models import GeneratedDescription

VISITOR_ID_LENGTH = 32


class VoteQuerySet(models.QuerySet):
    def cast(self, description: GeneratedDescription, visitor: str, value: str) -> Vote:
        """Record a visitor's vote, or change it; the description's counters follow with F()."""
        counter = {Vote.Value.UP: "up_votes", Vote.Value.DOWN: "down_votes"}
        with transaction.atomic():
            vote = self.select_for_update().filter(description=description, visitor=visitor).first()
            if vote is None:
                try:
                    with transaction.atomic():
                        vote = self.create(description=description, visitor=visitor, value=value)
                except IntegrityError:
                    # The same visitor voting twice at once: the other request recorded it.
                    return self.get(description=description, visitor=visitor)
                _descriptions(description).update(**{counter[value]: F(counter[value]) + 1})
            elif vote.value != value:
                old = counter[vote.value]
                _descriptions(description).update(
                    **{old: Greatest(F(old) - 1, 0), counter[value]: F(counter[value]) + 1}
                )
                vote.value = value
                vote.save(update_fields=["value", "updated_at"])
        return vote


class ReportQuerySet(models.QuerySet):
    def file(self, description: GeneratedDescription, visitor: str, reason: str) -> bool:
        """Record a report (once per visitor); enough of them send the text back to review."""
        with transaction.atomic():
            try:
                with transaction.atomic():
                    self.create(description=description, visitor=visitor, reason=reason)
            except IntegrityError:
                return False
            _descriptions(description).update(report_count=F("report_count") + 1)
            # Conditional UPDATE: concurrent reports hide the text exactly once, and only if public.
            GeneratedDescription.objects.servable().filter(
                pk=description.pk, report_count__gte=settings.REPORT_HIDE_THRESHOLD
            ).update(status=GeneratedDescription.Status.PENDING)
        return True


def _descriptions(description: GeneratedDescription) -> models.QuerySet[GeneratedDescription]:
    return GeneratedDescription.objects.filter(pk=description.pk)


class Vote(models.Model):
    class Value(models.TextChoices):
        UP = "up", "Would watch"
        DOWN = "down", "Not for me"

    description = models.ForeignKey(
        GeneratedDescription, on_delete=models.CASCADE, related_name="votes"
    )
    visitor = models.CharField(max_length=VISITOR_ID_LENGTH)
    value = models.CharField(max_length=4, choices=Value.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VoteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["description", "visitor"], name="one_vote_per_visitor")
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
    visitor = models.CharField(max_length=VISITOR_ID_LENGTH)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["description", "visitor"], name="one_report_per_visitor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: #{self.description_id}"
