"""Moderation of generated descriptions: the review queue, overfit evidence, and decisions.

The list opens on the review queue (pending and held texts) with each text visible, its copied
span marked, and Approve/Reject buttons per row; bulk actions approve, reject, hold, feature and
re-check. Keys (review.js): j/k move, x select, a/r decide the current row, A/R/H act on the
selected rows, o opens; on a text's page a/r/h/f/c decide and go to the next text in the queue.
Decisions and re-checks are generator.moderation's (re-checks shared with scan_overfit); this
module logs each as an admin LogEntry (who, when, what), and decisions stamp moderated_by/_at.
Texts come from the model, so nothing here edits a text; everything is escaped, being untrusted.
Request parameters that should name a text or a run are checked (ASCII digits, at most 18) and
answer 400 otherwise: int() takes "²" and Python ints outgrow the database's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import BadRequest, PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from generator import moderation, queueing
from generator.ids import required_id
from generator.ml.overfit import copied_runs
from generator.models import GeneratedDescription, ModelRun
from generator.moderation import DECISIONS, Decision
from titles.models import TrainingTitle

if TYPE_CHECKING:
    # The stubs' alias for what ModelAdmin.get_list_display returns (a list or a tuple).
    from django.contrib.admin.options import _ListDisplayT

Status = GeneratedDescription.Status
QUEUE_STATUSES = (Status.PENDING, Status.OVERFIT)
TEMPLATES = "admin/generator/generateddescription"
RECHECK = "recheck"


class ReviewQueueFilter(admin.SimpleListFilter):
    """The list opens here (see changelist_view); a status filter overrides it."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("review", "To review (pending and held)"), ("all", "Everything")]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or "all"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "review" and "status__exact" not in request.GET:
            # Public texts with enough reports wait here too: those the hourly cap left up.
            reported = Q(status=Status.APPROVED, report_count__gte=settings.REPORT_HIDE_THRESHOLD)
            return queryset.filter(Q(status__in=QUEUE_STATUSES) | reported)
        return queryset


class ScoreFilter(admin.SimpleListFilter):
    title = "overfit score"
    parameter_name = "score"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        review, threshold = settings.OVERFIT_REVIEW_THRESHOLD, settings.OVERFIT_THRESHOLD
        return [
            ("overfit", f"Overfit (≥ {threshold:g})"),
            ("borderline", f"Borderline ({review:g} to {threshold:g})"),
            ("clear", f"Clear (< {review:g})"),
            ("unchecked", "Not checked"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        review, threshold = settings.OVERFIT_REVIEW_THRESHOLD, settings.OVERFIT_THRESHOLD
        ranges: dict[str, dict[str, float | bool]] = {
            "overfit": {"overfit_score__gte": threshold},
            "borderline": {"overfit_score__gte": review, "overfit_score__lt": threshold},
            "clear": {"overfit_score__lt": review},
            "unchecked": {"overfit_score__isnull": True},
        }
        chosen = ranges.get(self.value() or "")
        return queryset.filter(**chosen) if chosen is not None else queryset


class ReportsFilter(admin.SimpleListFilter):
    title = "reports"
    parameter_name = "reports"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        hide = settings.REPORT_HIDE_THRESHOLD
        return [("none", "None"), ("some", "Reported"), ("many", f"Reported {hide} times or more")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        ranges = {
            "none": {"report_count": 0},
            "some": {"report_count__gte": 1},
            "many": {"report_count__gte": settings.REPORT_HIDE_THRESHOLD},
        }
        chosen = ranges.get(self.value() or "")
        return queryset.filter(**chosen) if chosen is not None else queryset


class ModelRunFilter(admin.SimpleListFilter):
    """Runs that wrote texts, newest first, each with its copy rate."""

    title = "model run (copy rate)"
    parameter_name = "run"

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        # Checked here too: with no run listed, Django drops the filter before queryset().
        if self.value() is not None:
            required_id(self.value() or "", "run")

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        runs = ModelRun.objects.with_copy_rate().filter(outputs_total__gt=0)[:30]
        return [(str(run.pk), f"#{run.pk}: {run.copy_rate_label()}") for run in runs]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(model_run_id=required_id(value, "run"))


@admin.register(GeneratedDescription)
class GeneratedDescriptionAdmin(admin.ModelAdmin):
    change_list_template = f"{TEMPLATES}/change_list.html"
    change_form_template = f"{TEMPLATES}/change_form.html"
    list_display = [
        "title",
        "text_with_span",
        "score",
        "status",
        "origin",
        "run",
        "reports",
        "decide",
    ]
    list_display_links = ["title"]
    list_filter = [
        ReviewQueueFilter,
        "status",
        ScoreFilter,
        ModelRunFilter,
        "kind",
        "genres",
        ReportsFilter,
        "overfit_reason",
        "featured",
        "pitched",
    ]
    search_fields = ["title", "text", "=nearest_show_id", "copied_span"]
    search_help_text = "Search titles, texts, copied spans and nearest show ids"
    list_select_related = ["model_run"]
    list_per_page = 50
    show_full_result_count = False
    actions = [
        "approve_selected",
        "reject_selected",
        "hold_selected",
        "feature_selected",
        "unfeature_selected",
        "recheck_selected",
    ]
    fieldsets = [
        (
            None,
            {"fields": ["title", "kind", "genre_list", "text", "status", "featured", "pitched"]},
        ),
        (
            "Overfit check",
            {"fields": ["comparison", *moderation.EVIDENCE_FIELDS]},
        ),
        ("Moderation", {"fields": ["moderated_by", "moderated_at"]}),
        (
            "Generation",
            {
                "classes": ["collapse"],
                "fields": [
                    "model_run",
                    "batch",
                    *GeneratedDescription.SAMPLING_FIELDS,
                    "chunk_size",
                    "sampler_dtype",
                    "batch_row",
                    "created_at",
                ],
            },
        ),
        (
            "Visitors",
            {
                "classes": ["collapse"],
                "fields": [
                    "times_served",
                    "first_served_at",
                    "up_votes",
                    "down_votes",
                    "report_count",
                ],
            },
        ),
    ]

    # Texts come from the model and are changed only through decisions, never through the form.

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten_fieldsets(self.fieldsets)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_list_display(self, request: HttpRequest) -> _ListDisplayT[GeneratedDescription]:
        if self.has_change_permission(request):
            return self.list_display
        return [name for name in self.list_display if name != "decide"]

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/moderate/",
                wrap(require_POST(self.moderate_view)),
                name="{}_{}_moderate".format(*info),
            ),
            path("review.js", wrap(self.review_script), name="{}_{}_review_js".format(*info)),
            *super().get_urls(),
        ]

    # Columns.

    @admin.display(description="text")
    def text_with_span(self, obj: GeneratedDescription) -> str:
        start = obj.text.find(obj.copied_span) if obj.copied_span else -1
        if start < 0:
            return obj.text
        end = start + len(obj.copied_span)
        return format_html(
            "{}<mark>{}</mark>{}", obj.text[:start], obj.text[start:end], obj.text[end:]
        )

    @admin.display(description="score", ordering="overfit_score")
    def score(self, obj: GeneratedDescription) -> str:
        if obj.overfit_score is None:
            return "–"
        reason = obj.get_overfit_reason_display()
        return format_html(
            '<span class="overfit-score{}">{}</span>{}',
            " overfit" if obj.overfit_score >= settings.OVERFIT_THRESHOLD else "",
            f"{obj.overfit_score:.2f}",
            format_html("<br><small>{}</small>", reason) if reason else "",
        )

    @admin.display(description="origin", ordering="pitched")
    def origin(self, obj: GeneratedDescription) -> str:
        # A visitor chose the title: moderators read it knowing that.
        return "Pitched by a visitor" if obj.pitched else "Pool"

    @admin.display(description="run", ordering="model_run")
    def run(self, obj: GeneratedDescription) -> str:
        return f"#{obj.model_run_id}" if obj.model_run_id else "–"

    @admin.display(description="reports", ordering="report_count")
    def reports(self, obj: GeneratedDescription) -> str:
        if not obj.report_count:
            return "0"
        reports = reverse("admin:web_report_changelist")
        return format_html(
            '<a href="{}?description__id__exact={}">{}</a>', reports, obj.pk, obj.report_count
        )

    @admin.display(description="decide")
    def decide(self, obj: GeneratedDescription) -> str:
        return format_html_join(
            " ",
            '<button type="submit" class="button" name="decide" value="{}:{}">{}</button>',
            (
                (name, obj.pk, label)
                for name, label in (("approve", "Approve"), ("reject", "Reject"))
            ),
        )

    @admin.display(description="genres")
    def genre_list(self, obj: GeneratedDescription) -> str:
        return ", ".join(genre.name for genre in obj.genres.all())

    @admin.display(description="text beside its nearest source")
    def comparison(self, obj: GeneratedDescription) -> str:
        return render_to_string(f"{TEMPLATES}/comparison.html", _comparison(obj))

    # Bulk actions.

    @admin.action(description="Approve selected texts", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_and_report(request, queryset, DECISIONS["approve"])

    @admin.action(description="Reject selected texts", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_and_report(request, queryset, DECISIONS["reject"])

    @admin.action(description="Hold selected texts as overfit", permissions=["change"])
    def hold_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_and_report(request, queryset, DECISIONS["hold"])

    @admin.action(description="Approve and feature selected texts", permissions=["change"])
    def feature_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_and_report(request, queryset, DECISIONS["feature"])

    @admin.action(description="Stop featuring selected texts", permissions=["change"])
    def unfeature_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_and_report(request, queryset, DECISIONS["unfeature"])

    @admin.action(description="Re-check selected texts for overfitting", permissions=["change"])
    def recheck_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        results = self.recheck(request, list(queryset.order_by("pk")))
        changed = sum(result.changed for result in results)
        kept = sum(result.kept for result in results)
        note = f"; {kept} kept the status a moderator gave them" if kept else ""
        self.message_user(
            request, f"Re-checked {len(results)} texts; {changed} changed status{note}."
        )

    # Decisions: the bulk actions, the row buttons and the detail page all come through here.

    def apply_decision(
        self, request: HttpRequest, objects: Sequence[GeneratedDescription], decision: Decision
    ) -> int:
        """Apply a moderator's decision and log it for each text it changes; returns how many."""
        with transaction.atomic():
            changes = moderation.decide(objects, decision, request.user)
            for change in changes:
                self.log_change(
                    request, change.description, f"{decision.label}: {change.describe()}"
                )
            # A worker draws the share card of each text that went public (none for the others).
            queueing.draw_cards_on_commit([change.description.pk for change in changes])
        return len(changes)

    def recheck(
        self, request: HttpRequest, objects: Sequence[GeneratedDescription]
    ) -> list[moderation.Recheck]:
        """Run the overfit check again under generator.moderation's rule, and log each text."""
        with transaction.atomic():
            results = moderation.recheck(objects)
            for result in results:
                self.log_change(request, result.description, f"Re-checked: {result.describe()}")
            queueing.draw_cards_on_commit([result.description.pk for result in results])
        return results

    def _decide_and_report(
        self, request: HttpRequest, queryset: QuerySet, decision: Decision
    ) -> None:
        objects = list(queryset)
        changed = self.apply_decision(request, objects, decision)
        unchanged = len(objects) - changed
        note = f" ({unchanged} already were)" if unchanged else ""
        self.message_user(
            request, f"{decision.label}: {changed} texts changed{note}.", messages.SUCCESS
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.method == "GET" and not request.GET:
            return HttpResponseRedirect(f"{request.path}?queue=review")
        if request.method == "POST" and "decide" in request.POST:
            return self._decide_row(request)
        # Django's actions filter pk__in=<the posted ids> as given: "²" would be a server error.
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            required_id(value, "a selected text's id")
        context = {**(extra_context or {}), "can_decide": self.has_change_permission(request)}
        if request.method == "GET" and GeneratedDescription.objects.report_hides_left() <= 0:
            messages.warning(
                request,
                f"Reports took down {settings.REPORT_HIDES_PER_HOUR} texts in the last hour, the "
                "site's cap (REPORT_HIDES_PER_HOUR): texts reported since stay public and wait "
                "in the review queue for a decision. A flood of reports looks like this.",
            )
        return super().changelist_view(request, context)

    def _decide_row(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        name, _, pk = request.POST["decide"].partition(":")
        decision = DECISIONS.get(name)
        if decision is None:
            raise BadRequest(f"unknown decision {name[:40]!r}")
        obj = get_object_or_404(GeneratedDescription, pk=required_id(pk, "the text's id"))
        if self.apply_decision(request, [obj], decision):
            messages.success(request, f"{decision.label}: “{obj.title}”.")
        return HttpResponseRedirect(request.get_full_path())

    def moderate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A decision from a text's own page, then on to the next text in the queue."""
        obj = self.get_object(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if obj is None:
            raise Http404("No such text.")
        name = request.POST.get("decision", "")
        if name == RECHECK:
            self.recheck(request, [obj])
            obj.refresh_from_db()
            messages.success(
                request, f"Re-checked “{obj.title}”: {obj.get_status_display().lower()}."
            )
            return HttpResponseRedirect(self._change_url(obj.pk))
        decision = DECISIONS.get(name)
        if decision is None:
            messages.error(request, "Unknown decision.")
            return HttpResponseRedirect(self._change_url(obj.pk))
        if self.apply_decision(request, [obj], decision):
            messages.success(request, f"{decision.label}: “{obj.title}”.")
        following = (
            GeneratedDescription.objects.filter(status__in=QUEUE_STATUSES)
            .exclude(pk=obj.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if following is None:
            messages.info(request, "The review queue is empty.")
            changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{changelist}?queue=review")
        return HttpResponseRedirect(self._change_url(following))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = {
            **(extra_context or {}),
            # Every field is read-only: decisions are buttons, so the save buttons would do nothing.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "decisions": _page_decisions(obj),
            "moderate_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_moderate", args=[object_id]
            )
            if obj is not None
            else "",
        }
        return super().change_view(request, object_id, form_url, context)

    def review_script(self, request: HttpRequest) -> HttpResponse:
        # Served from the admin (same origin) because the CSP allows no inline scripts.
        response = TemplateResponse(
            request, f"{TEMPLATES}/review.js", {}, content_type="text/javascript; charset=utf-8"
        )
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def _change_url(self, pk: int) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[pk])


def _page_decisions(obj: GeneratedDescription | None) -> list[tuple[str, str, str]]:
    """(decision, button label, access key) for a text's page, the current state left out."""
    if obj is None:
        return []
    feature = (
        ("unfeature", "Stop featuring") if obj.featured else ("feature", "Approve and feature")
    )
    buttons = [
        ("approve", "Approve", "a"),
        ("reject", "Reject", "r"),
        ("hold", "Hold as overfit", "h"),
        (*feature, "f"),
        (RECHECK, "Re-check", "c"),
    ]
    # Keyed by str: the status field reads as a plain str, and a Status member is one.
    decision_for_status: dict[str, str] = {
        Status.APPROVED: "approve",
        Status.REJECTED: "reject",
        Status.OVERFIT: "hold",
    }
    current = decision_for_status.get(obj.status)
    return [button for button in buttons if button[0] != current]


def _segments(text: str, ranges: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The text cut into (piece, copied) pieces; the template escapes every piece."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in sorted(ranges):
        start = max(start, position)  # overlapping runs: mark each character once
        if start >= end:
            continue
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def _comparison(obj: GeneratedDescription) -> dict[str, Any]:
    nearest_text, nearest_label, nearest_url, missing = "", "", "", False
    if obj.nearest_show_id:
        training = TrainingTitle.objects.filter(show_id=obj.nearest_show_id).first()
        if training is None:
            missing = True
        else:
            nearest_text = training.description
            nearest_label = f"Training title {training.show_id}: {training.title or '(untitled)'}"
            nearest_url = reverse("admin:titles_trainingtitle_change", args=[training.pk])
    elif obj.nearest_generated_id:
        generated = obj.nearest_generated
        if generated is not None:
            nearest_text = generated.text
            nearest_label = f"Generated text #{generated.pk}: {generated.title}"
            nearest_url = reverse(
                "admin:generator_generateddescription_change", args=[generated.pk]
            )
    runs = (
        copied_runs(obj.text, nearest_text, settings.OVERFIT_MIN_RUN_WORDS) if nearest_text else []
    )
    if not runs and obj.copied_span and obj.copied_span in obj.text:
        start = obj.text.index(obj.copied_span)
        ours = [(start, start + len(obj.copied_span))]
    else:
        ours = [mine for mine, _theirs in runs]
    return {
        "score": obj.overfit_score,
        "threshold": settings.OVERFIT_THRESHOLD,
        "overfit": obj.overfit_score is not None
        and obj.overfit_score >= settings.OVERFIT_THRESHOLD,
        "reason": obj.get_overfit_reason_display(),
        "title_copied": obj.overfit_reason == GeneratedDescription.OverfitReason.TITLE,
        "title": obj.title,
        "ours": _segments(obj.text, ours),
        "theirs": _segments(nearest_text, [theirs for _mine, theirs in runs]),
        "nearest_label": nearest_label,
        "nearest_url": nearest_url,
        "missing_show_id": obj.nearest_show_id if missing else "",
        "checked": obj.checked_at is not None,
    }
