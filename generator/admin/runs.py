"""Fine-tuning runs in the admin: progress, loss curves, samples, activation and a start form.

Runs are created by `manage.py finetune` or by the "Start fine-tune" form here, which queues the
`generator.finetune` task on the `train` queue once the run's row is committed. Everything a run
holds (samples are model output) is escaped; the loss chart is inline SVG built server-side.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from generator import queueing
from generator.admin.loss_chart import loss_chart_svg
from generator.finetune_runs import DATABASE_SOURCE, create_run
from generator.ml.bases import DEFAULT_BASE, BaseModelError, check_base
from generator.ml.config import ConfigError, TrainingConfig
from generator.ml.metrics import loss_with_perplexity
from generator.models import ModelRun, ModelRunQuerySet
from titles.models import TrainingTitle

START_TEMPLATE = "admin/generator/modelrun/start_finetune.html"
SAMPLE_PREVIEW_CHARS = 90
_DEFAULTS = TrainingConfig()
# The largest value a PositiveIntegerField (ModelRun.total_steps) holds on every backend.
MAX_DB_INTEGER = 2**31 - 1
# Trainer seeds numpy too, which takes seeds below 2**32 only.
MAX_SEED = 2**32 - 1
# ModelRun's primary key is a BigAutoField.
MAX_RUN_ID = 2**63 - 1


class StartFineTuneForm(forms.Form):
    base = forms.CharField(
        initial=DEFAULT_BASE,
        max_length=300,
        help_text=f"{DEFAULT_BASE} (bundled), a checkpoint directory on the worker, or a "
        "Hugging Face id already in the worker's cache",
    )
    steps = forms.IntegerField(
        min_value=1,
        max_value=MAX_DB_INTEGER,
        required=False,
        initial=200,
        help_text="optimizer steps; or give epochs",
    )
    epochs = forms.FloatField(required=False, help_text="used when steps is empty")
    batch_size = forms.IntegerField(
        min_value=1, max_value=MAX_DB_INTEGER, initial=_DEFAULTS.batch_size
    )
    grad_accum = forms.IntegerField(
        min_value=1, max_value=MAX_DB_INTEGER, initial=_DEFAULTS.grad_accum
    )
    lr = forms.FloatField(label="Learning rate", initial=_DEFAULTS.lr)
    warmup = forms.IntegerField(min_value=0, max_value=MAX_DB_INTEGER, initial=_DEFAULTS.warmup)
    max_length = forms.IntegerField(
        min_value=8, max_value=MAX_DB_INTEGER, initial=_DEFAULTS.max_length
    )
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, initial=_DEFAULTS.seed)
    limit = forms.IntegerField(
        min_value=2,
        max_value=MAX_DB_INTEGER,
        required=False,
        help_text="train on the first N training titles only",
    )
    eval_every = forms.IntegerField(
        min_value=0, max_value=MAX_DB_INTEGER, initial=_DEFAULTS.eval_every
    )
    sample_every = forms.IntegerField(
        min_value=0, max_value=MAX_DB_INTEGER, initial=_DEFAULTS.sample_every
    )
    save_every = forms.IntegerField(
        min_value=0, max_value=MAX_DB_INTEGER, initial=_DEFAULTS.save_every
    )

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
        "created_at",
    ]
    list_display_links = ["run_label"]
    list_filter = ["status", "is_active", "base"]
    search_fields = ["base", "error"]
    actions = ["activate_run", "resume_runs"]
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
                    "loss_chart",
                    "throughput",
                    ("train_records", "eval_records"),
                    "checkpoint_path",
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
        return [name for fieldset in self.fieldsets for name in _flat(fieldset[1]["fields"])]

    def has_delete_permission(self, request: HttpRequest, obj: ModelRun | None = None) -> bool:
        # A running run still writes its row; deleting it under the worker would lose the record.
        if obj is not None and obj.status == ModelRun.Status.RUNNING:
            return False
        return super().has_delete_permission(request, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django's actions filter pk__in=<the posted ids> as given: "²" or an id past the key's
        # range would be a server error there.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if request.method == "POST" and any(_run_id(value) is None for value in selected):
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
        return [start, *super().get_urls()]

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
    def activate_run(self, request: HttpRequest, queryset: QuerySet[ModelRun]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one run to activate.", messages.ERROR)
            return
        run = queryset.get()
        try:
            run.activate()
        except ValueError as exc:
            self.message_user(request, f"Not activated: {exc}.", messages.ERROR)
            return
        self.log_change(request, run, "Activated for generation")
        self.message_user(request, f"Run #{run.pk} is now the active model.", messages.SUCCESS)

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


def _flat(names: Sequence[str | Sequence[str]]) -> list[str]:
    """Field names of a fieldset, rows of several fields ("a", "b") flattened."""
    flat: list[str] = []
    for name in names:
        flat.extend((name,) if isinstance(name, str) else name)
    return flat


def _run_id(value: str) -> int | None:
    """`value` as a run id (ASCII digits within the key's range), or None."""
    if not (value.isascii() and value.isdecimal()):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_RUN_ID else None


def _loss(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "–"
