"""Fine-tuning runs in the admin: progress, loss curves, samples, activation and a start form.

Runs are created by `manage.py finetune` or by the "Start fine-tune" form here, which queues the
`generator.finetune` task on the `train` queue once the run's row is committed. Everything a run
holds (samples are model output) is escaped; the loss chart is inline SVG built server-side.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import Field, dataclass, fields
from typing import TYPE_CHECKING, Any, cast, get_type_hints

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    HttpResponseNotFound,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from generator import queueing
from generator.admin.loss_chart import loss_chart_svg
from generator.finetune_runs import DATABASE_SOURCE, create_run
from generator.ids import row_id
from generator.ml.bases import DEFAULT_BASE, BaseModelError, check_base
from generator.ml.config import ConfigError, TrainingConfig
from generator.ml.metrics import loss_with_perplexity
from generator.models import ModelRun, ModelRunQuerySet
from generator.quality_gate import (
    FIGURES,
    Figure,
    before_reranking,
    distinct_2_share,
    gate,
    number,
    rate,
    run_activation_problems,
)
from titles.models import TrainingTitle

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

START_TEMPLATE = "admin/generator/modelrun/start_finetune.html"
COMPARE_TEMPLATE = "admin/generator/modelrun/compare.html"
ACTIVATE_TEMPLATE = "admin/generator/modelrun/activate_confirmation.html"
SAMPLE_PREVIEW_CHARS = 90
_HYPERPARAMETER_TYPES = get_type_hints(TrainingConfig)
# The largest value a PositiveIntegerField (ModelRun.total_steps) holds on every backend.
MAX_DB_INTEGER = 2**31 - 1
# Trainer seeds numpy too, which takes seeds below 2**32 only.
MAX_SEED = 2**32 - 1


class StartFineTuneForm(forms.Form):
    base = forms.CharField(
        initial=DEFAULT_BASE,
        max_length=300,
        help_text=f"{DEFAULT_BASE} (bundled), a checkpoint directory on the worker, or a "
        "Hugging Face id already in the worker's cache",
    )
    limit = forms.IntegerField(
        min_value=2,
        max_value=MAX_DB_INTEGER,
        required=False,
        help_text="train on the first N training titles only",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hyperparameters = {
            setting.name: _hyperparameter_field(setting) for setting in fields(TrainingConfig)
        }
        self.fields = {
            "base": self.fields["base"],
            **hyperparameters,
            "limit": self.fields["limit"],
        }

    config: TrainingConfig

    def clean_base(self) -> str:
        base = self.cleaned_data["base"].strip()
        try:
            check_base(base)
        except BaseModelError as exc:
            raise forms.ValidationError(str(exc)) from None
        return base

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned
        titles = TrainingTitle.objects.count()
        try:
            self.config = TrainingConfig.from_given(cleaned)
        except ConfigError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)
        else:
            # Epochs become steps, which the run's row stores as a database integer.
            if self.config.total_steps(titles) > MAX_DB_INTEGER:
                self.add_error("epochs", f"more than {MAX_DB_INTEGER} steps; give fewer epochs")
        if titles < 2:
            self.add_error(
                None,
                "Import training titles first (manage.py import_titles FILE): need at least 2.",
            )
        return cleaned


def _hyperparameter_field(setting: Field[Any]) -> forms.Field:
    """A TrainingConfig field as a form field; empty keeps its default, which it shows."""
    kind = _HYPERPARAMETER_TYPES[setting.name]
    common = {"required": False, "initial": setting.default, "help_text": setting.metadata["help"]}
    if kind in (bool, bool | None):
        choices = [("", "by the base's vocabulary"), ("true", "yes"), ("false", "no")]
        return forms.NullBooleanField(widget=forms.Select(choices=choices), **common)
    if kind in (float, float | None):
        return forms.FloatField(**common)
    # Integers end up in database integer columns; Trainer seeds numpy, which takes < 2**32.
    largest = MAX_SEED if setting.name == "seed" else MAX_DB_INTEGER
    return forms.IntegerField(max_value=largest, **common)


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    list_display = [
        "run_label",
        "status",
        "progress",
        "train_loss",
        "eval_loss",
        "base_loss",
        "throughput",
        "is_active",
        "sample_count",
        "latest_sample",
        "copy_rate_label",
        "auc_label",
        "distinct_2_label",
        "created_at",
    ]
    list_display_links = ["run_label"]
    list_filter = ["status", "is_active", "base"]
    search_fields = ["base", "error"]
    actions = ["activate_run", "compare_runs", "resume_runs"]
    change_list_template = "admin/generator/modelrun/change_list.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "base",
                    "status",
                    "is_active",
                    "progress",
                    "device",
                    "error",
                    ("created_at", "started_at", "finished_at", "heartbeat_at"),
                ]
            },
        ),
        (
            "Results",
            {
                "fields": [
                    "loss_summary",
                    ("loss_chart", "realism_table"),
                    "throughput",
                    ("train_records", "eval_records"),
                    ("checkpoint_path", "batch_size"),
                    ("stop_reason", "best_step", "best_eval_loss"),
                    ("activate_when_good", "activation", "activation_problems"),
                ]
            },
        ),
        ("Samples per checkpoint", {"fields": ["samples_by_step"]}),
        ("Hyperparameters", {"fields": ["hyperparameters_table"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> ModelRunQuerySet:
        # The default manager is ModelRunQuerySet.as_manager(); ModelAdmin types it as a QuerySet.
        return cast(ModelRunQuerySet, super().get_queryset(request)).with_copy_rate()

    def get_readonly_fields(self, request: HttpRequest, obj: ModelRun | None = None) -> list[str]:
        names = [name for fieldset in self.fieldsets for name in _flat(fieldset[1]["fields"])]
        return [*names, EVALUABLE_REALISM_TABLE]

    def get_fieldsets(self, request: HttpRequest, obj: ModelRun | None = None) -> _FieldsetSpec:
        fieldsets = super().get_fieldsets(request, obj)
        if not self.has_change_permission(request, obj):
            return fieldsets
        # Only users who may change runs get the table with the Evaluate button.
        return [
            (name, {**options, "fields": _swap(options["fields"])}) for name, options in fieldsets
        ]

    def has_delete_permission(self, request: HttpRequest, obj: ModelRun | None = None) -> bool:
        # A running run still writes its row; deleting it under the worker would lose the record.
        # The active run writes every batch and pitch: switch to another one first.
        if obj is not None and (obj.status == ModelRun.Status.RUNNING or obj.is_active):
            return False
        return super().has_delete_permission(request, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django's actions filter pk__in=<the posted ids> as given: "²" or an id past the key's
        # range would be a server error there.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if request.method == "POST" and any(row_id(value) is None for value in selected):
            return HttpResponseBadRequest("The selected runs are not run ids.")
        ModelRun.objects.fail_stale()
        extra = {**(extra_context or {}), "can_start": self.has_add_permission(request)}
        return super().changelist_view(request, extra_context=extra)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # A run is never typed in by hand: "add" is the start form.
        return HttpResponseRedirect(reverse("admin:generator_modelrun_start"))

    def get_urls(self) -> list[URLPattern]:
        start = path(
            "start/",
            self.admin_site.admin_view(self.start_view),
            name="generator_modelrun_start",
        )
        evaluate = path(
            "<path:object_id>/evaluate/",
            self.admin_site.admin_view(self.evaluate_view),
            name="generator_modelrun_evaluate",
        )
        return [start, evaluate, *super().get_urls()]

    def evaluate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: queue the realism evaluation of a done run on the gpu queue."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run_id = row_id(object_id)
        run = ModelRun.objects.filter(pk=run_id).first() if run_id else None
        if run is None:
            return HttpResponseNotFound("No such run.")
        if not self.has_change_permission(request, run):
            raise PermissionDenied
        change_url = reverse("admin:generator_modelrun_change", args=[run.pk])
        if run.status != ModelRun.Status.DONE or not run.checkpoint_path:
            self.message_user(
                request,
                f"Run #{run.pk} is {run.status}: only a finished run with a checkpoint is "
                "evaluated.",
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url)
        queueing.evaluate_run_on_commit(run.pk)
        self.log_change(request, run, "Queued its realism evaluation")
        self.message_user(
            request,
            f"Run #{run.pk}'s realism evaluation is queued on the gpu queue; the figures appear "
            "here once a gpu worker has sampled it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(change_url)

    def start_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StartFineTuneForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                run = create_run(
                    form.config,
                    base=form.cleaned_data["base"],
                    data=DATABASE_SOURCE,
                    limit=form.cleaned_data["limit"],
                )
                queueing.finetune_on_commit(run.pk)
            self.log_addition(request, run, [{"added": {}}])
            self.message_user(
                request,
                f"Run #{run.pk} is queued on the train queue.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:generator_modelrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Start a fine-tune",
            "form": form,
            "opts": self.model._meta,
            "titles": TrainingTitle.objects.count(),
        }
        return TemplateResponse(request, START_TEMPLATE, context)

    @admin.action(description="Activate the selected run for generation", permissions=["change"])
    def activate_run(
        self, request: HttpRequest, queryset: QuerySet[ModelRun]
    ) -> TemplateResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one run to activate.", messages.ERROR)
            return None
        run = queryset.get()
        problems = run_activation_problems(run)
        confirmed = request.POST.get("confirm") == "yes"
        if problems and run.status == ModelRun.Status.DONE and not confirmed:
            # Like delete_selected: an intermediate page; nothing changes until it is confirmed.
            self.message_user(
                request,
                f"Run #{run.pk} is not activated: it does not pass the quality gate.",
                messages.WARNING,
            )
            context = {
                **self.admin_site.each_context(request),
                "title": f"Activate run #{run.pk} anyway?",
                "opts": self.model._meta,
                "run": run,
                "problems": problems,
                "active": ModelRun.objects.active(),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, ACTIVATE_TEMPLATE, context)
        try:
            run.activate()
        except ValueError as exc:
            self.message_user(request, f"Not activated: {exc}.", messages.ERROR)
            return None
        note = f" despite: {'; '.join(problems)}" if problems else ""
        self.log_change(request, run, f"Activated for generation{note}")
        self.message_user(request, f"Run #{run.pk} is now the active model.", messages.SUCCESS)
        return None

    @admin.action(description="Compare the selected runs side by side", permissions=["view"])
    def compare_runs(
        self, request: HttpRequest, queryset: QuerySet[ModelRun]
    ) -> TemplateResponse | None:
        runs = list(queryset.order_by("pk"))
        if len(runs) < 2:
            self.message_user(request, "Select two or more runs to compare.", messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Compare runs " + ", ".join(f"#{run.pk}" for run in runs),
            "opts": self.model._meta,
            "runs": runs,
            "rows": comparison_rows(runs),
        }
        return TemplateResponse(request, COMPARE_TEMPLATE, context)

    @admin.action(description="Resume the selected failed runs", permissions=["change"])
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[ModelRun]) -> None:
        resumed = []
        with transaction.atomic():
            for run in queryset.filter(status=ModelRun.Status.FAILED):
                if ModelRun.objects.requeue(run.pk):
                    queueing.finetune_on_commit(run.pk)
                    resumed.append(run)
        for run in resumed:
            self.log_change(request, run, "Resumed")
        skipped = queryset.count() - len(resumed)
        text = f"Queued {len(resumed)} run(s) to resume from their last checkpoint."
        if skipped:
            text += f" {skipped} not failed, so not resumed."
        self.message_user(request, text, messages.SUCCESS if resumed else messages.WARNING)

    @admin.display(description="AUC")
    def auc_label(self, run: ModelRun) -> str:
        return number(run.realism.get("discriminator_auc"))

    @admin.display(description="distinct-2")
    def distinct_2_label(self, run: ModelRun) -> str:
        return number(run.realism.get("distinct_2"))

    @admin.display(description="realism")
    def realism_table(self, run: ModelRun) -> SafeString:
        return realism_html(run, evaluate_button=False)

    @admin.display(description="realism")
    def realism_table_evaluable(self, run: ModelRun) -> SafeString:
        return realism_html(run, evaluate_button=True)

    @admin.display(description="run", ordering="pk")
    def run_label(self, run: ModelRun) -> str:
        return f"#{run.pk} {run.base}"

    @admin.display(description="step")
    def progress(self, run: ModelRun) -> str:
        return f"{run.step} / {run.total_steps}" if run.total_steps else str(run.step)

    @admin.display(description="train loss")
    def train_loss(self, run: ModelRun) -> str:
        return _loss(run.last_train_loss)

    @admin.display(description="eval loss")
    def eval_loss(self, run: ModelRun) -> str:
        return _loss(run.last_eval_loss)

    @admin.display(description="base eval loss")
    def base_loss(self, run: ModelRun) -> str:
        return _loss(run.base_eval_loss)

    @admin.display(description="tokens/s", ordering="tokens_per_second")
    def throughput(self, run: ModelRun) -> str:
        return f"{run.tokens_per_second:,.0f}" if run.tokens_per_second else "–"

    @admin.display(description="samples")
    def sample_count(self, run: ModelRun) -> int:
        return sum(len(entry.get("texts", [])) for entry in run.samples)

    @admin.display(description="latest sample")
    def latest_sample(self, run: ModelRun) -> str:
        if not run.samples or not run.samples[-1].get("texts"):
            return "–"
        text = run.samples[-1]["texts"][0]
        return text if len(text) <= SAMPLE_PREVIEW_CHARS else text[:SAMPLE_PREVIEW_CHARS] + "…"

    @admin.display(description="loss")
    def loss_summary(self, run: ModelRun) -> str:
        parts = []
        if run.base_eval_loss is not None:
            parts.append(f"base model eval {loss_with_perplexity(run.base_eval_loss)}")
        if run.last_eval_loss is not None:
            step = run.eval_loss_curve[-1][0]
            parts.append(f"eval at step {step} {loss_with_perplexity(run.last_eval_loss)}")
        if run.last_train_loss is not None:
            parts.append(f"last train {run.last_train_loss:.4f}")
        return "; ".join(parts) or "–"

    @admin.display(description="loss curve")
    def loss_chart(self, run: ModelRun) -> SafeString | str:
        svg = loss_chart_svg(run.train_loss_curve, run.eval_loss_curve, run.base_eval_loss)
        # Built from formatted numbers and html.escape()d labels only (generator.admin.loss_chart).
        return mark_safe(svg) if svg else "No steps yet."

    @admin.display(description="samples")
    def samples_by_step(self, run: ModelRun) -> SafeString | str:
        if not run.samples:
            return "No samples yet."
        sections = format_html_join(
            "",
            "<h4>Step {}</h4><ol>{}</ol>",
            (
                (
                    entry.get("step", "?"),
                    format_html_join(
                        "", "<li><code>{}</code></li>", ((t,) for t in entry["texts"])
                    ),
                )
                for entry in reversed(run.samples)
            ),
        )
        return format_html('<div class="finetune-samples">{}</div>', sections)

    @admin.display(description="hyperparameters")
    def hyperparameters_table(self, run: ModelRun) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((name, json.dumps(value)) for name, value in sorted(run.hyperparameters.items())),
        )
        return format_html("<table>{}</table>", rows)


EVALUABLE_REALISM_TABLE = "realism_table_evaluable"


def _gate_column(item: Figure, realism: dict[str, Any]) -> str:
    """The threshold a figure is held to, with a pass or fail mark; "" for ungated figures."""
    if not item.gated:
        return ""
    text = item.bound()
    if item.gated_key and (share := item.value(realism)) is not None:
        text += f" (is {share:.0%})"
    return f"{'✗' if item.failure(realism) else '✓'} {text}"


def realism_html(run: ModelRun, evaluate_button: bool) -> SafeString:
    """The realism table of a run's detail page, or "not evaluated yet" (with the button)."""
    evaluable = run.status == ModelRun.Status.DONE and bool(run.checkpoint_path)
    button = (
        format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" '
            'formnovalidate name="evaluate">{}</button>',
            reverse("admin:generator_modelrun_evaluate", args=[run.pk]),
            "Evaluate again" if run.realism else "Evaluate",
        )
        if evaluate_button and evaluable
        else ""
    )
    realism = run.realism
    if not realism:
        why = "" if evaluable else " (only a finished run with a checkpoint is evaluated)"
        return format_html('<p class="realism-empty">Not evaluated yet{}.</p>{}', why, button)
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td class="help">{}</td></tr>',
        (
            (
                item.label,
                item.show(realism.get(item.key)),
                _gate_column(item, realism),
                item.meaning,
            )
            for item in FIGURES
        ),
    )
    failed = gate(realism)
    verdict = "failed: " + "; ".join(failed) if failed else "passed"
    return format_html(
        '<table class="realism"><thead><tr><th>figure</th><th>value</th><th>gate</th>'
        "<th>meaning</th></tr></thead><tbody>{}</tbody></table>{}"
        "<p><strong>Quality gate {}</strong></p>"
        "<p><small>{} samples against {} real texts never trained on, seed {}, "
        "evaluated {} in {} s.</small></p>{}",
        rows,
        _reranking_note(realism),
        verdict,
        realism.get("samples", "–"),
        realism.get("real_texts", "–"),
        realism.get("seed", "–"),
        str(realism.get("evaluated_at", "–"))[:19].replace("T", " "),
        realism.get("seconds", "–"),
        button,
    )


def _reranking_note(realism: dict[str, Any]) -> str:
    """What the figures are of, when batches keep only the texts the run's reranker prefers."""
    reranked = before_reranking(realism)
    if reranked is None:
        return ""
    keep_share, before = reranked
    return format_html(
        '<p class="realism-reranking">AUC, distinct-2 and length are of what batches serve: the {} '
        "of each batch's good texts, copies held, that the run's reranker finds most real. Of "
        "all samples: discriminator AUC {}, distinct-2 {}.</p>",
        f"{keep_share:.0%}",
        number(before.get("discriminator_auc")),
        number(before.get("distinct_2")),
    )


@dataclass(frozen=True)
class ComparisonRow:
    label: str
    cells: list[tuple[str, bool]]  # (shown value, is the best of the runs compared)


def comparison_rows(runs: Sequence[ModelRun]) -> list[ComparisonRow]:
    """Rows of the compare page: training figures then every realism figure, the best marked."""
    figures: list[tuple[str, Callable[[ModelRun], Any], Callable[[Any], str], bool | None]] = [
        ("base", lambda run: run.base, str, None),
        ("status", lambda run: run.status, str, None),
        ("steps", lambda run: run.step, str, None),
        (
            "records (train / eval)",
            lambda run: f"{run.train_records} / {run.eval_records}",
            str,
            None,
        ),
        ("train loss", lambda run: run.last_train_loss, number, True),
        ("eval loss", lambda run: run.kept_eval_loss, number, True),
        ("base model eval loss", lambda run: run.base_eval_loss, number, None),
    ]
    for item in FIGURES:
        if item.key != "eval_loss":  # the eval loss above is the same figure, current
            figures.append((item.label, _realism_getter(item.key), item.show, item.lower_is_better))
    figures.append(
        ("distinct-2, share of real", distinct_2_share_of, rate, False),
    )
    figures.append(
        ("samples", _realism_getter("samples"), lambda v: "–" if v is None else str(v), None)
    )
    figures.append(("quality gate", lambda run: _gate_verdict(run), str, None))
    return [
        ComparisonRow(label, _cells([value(run) for run in runs], show, lower_is_better))
        for label, value, show, lower_is_better in figures
    ]


def _realism_getter(key: str) -> Callable[[ModelRun], Any]:
    return lambda run: run.realism.get(key)


def distinct_2_share_of(run: ModelRun) -> float | None:
    return distinct_2_share(run.realism)


def _gate_verdict(run: ModelRun) -> str:
    failed = gate(run.realism)
    return "passed" if not failed else "failed: " + "; ".join(failed)


def _cells(
    values: list[Any], show: Callable[[Any], str], lower_is_better: bool | None
) -> list[tuple[str, bool]]:
    measured = [value for value in values if value is not None]
    best = None
    # A best value only means something among two or more measured runs that differ.
    if lower_is_better is not None and len(measured) >= 2 and len(set(measured)) > 1:
        best = min(measured) if lower_is_better else max(measured)
    return [(show(value), value is not None and value == best) for value in values]


def _swap(names: Sequence[str | Sequence[str]]) -> tuple[str | tuple[str, ...], ...]:
    """Fieldset names with the realism table replaced by the one with the Evaluate button."""

    def swap(name: str) -> str:
        return EVALUABLE_REALISM_TABLE if name == "realism_table" else name

    return tuple(swap(name) if isinstance(name, str) else tuple(map(swap, name)) for name in names)


def _flat(names: Sequence[str | Sequence[str]]) -> list[str]:
    """Field names of a fieldset, rows of several fields ("a", "b") flattened."""
    flat: list[str] = []
    for name in names:
        flat.extend((name,) if isinstance(name, str) else name)
    return flat


def _loss(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "–"
