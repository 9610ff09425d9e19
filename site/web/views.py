"""Visitor pages: a random unseen description per load, permalinks, feedback, the about page.

Also the files crawlers and security researchers look for: robots.txt and security.txt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache as once
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url
from django_htmx.middleware import HtmxDetails
from django_ratelimit.decorators import ratelimit  # type: ignore[import-untyped]

from config.client import client_address
from generator.ml.config import TrainingConfig
from generator.models import Activation, GeneratedDescription, ModelRun
from generator.posters import poster_colour as _poster_colour
from titles.models import TrainingTitle
from web.cookies import read_signed, set_signed
from web.filters import BadFilter as _BadFilter
from web.filters import filter_chips as _filter_chips
from web.filters import pool_filter as _pool_filter
from web.models import Filed, Report, Vote, client_key, seen_text_hash, seen_token
from web.pitch_authors import authors_preview
from web.served import tally
from web.share import card_url
from web.walk import PoolFilter, Walk, next_in_filter

EMPTY_POLL_ID = "pool-empty"
STATUS_POLL_SECONDS = 5
BOOTSTRAP_COMMAND = "python3 dev.py run --titles path/to/netflix_titles.csv"
_WALK_COOKIE = "tmdne_walk"
SECURITY_TXT_DAYS = 180  # RFC 9116 asks for an Expires under a year away
_FEEDBACK_RATE_GROUP = "web:feedback"  # votes and reports share one count per client


class HtmxHttpRequest(HttpRequest):
    """A request as HtmxMiddleware leaves it (django-htmx's typing pattern)."""

    htmx: HtmxDetails


def _feedback_rate(group: str, request: HttpRequest) -> str:
    return f"{settings.FEEDBACK_RATE_LIMIT}/m"


# Counted per client address (config.client.client_address, via RATELIMIT_IP_META_KEY).
_feedback_rate_limit = ratelimit(
    group=_FEEDBACK_RATE_GROUP, key="ip", rate=_feedback_rate, method="POST", block=False
)


@never_cache
@vary_on_headers("HX-Request")
@require_safe
def home(request: HtmxHttpRequest) -> HttpResponse:
    try:
        pool_filter = _pool_filter(request)
    except _BadFilter as error:
        return _message(request, "No such filter", str(error), status=400)
    walk = Walk.decode(read_signed(request, _WALK_COOKIE))
    step = next_in_filter(pool_filter, walk.get(pool_filter.key))
    partial = _wants_partial(request)
    if step.description is None and partial and request.htmx.trigger == EMPTY_POLL_ID:
        return HttpResponse(status=204)  # still empty: the poller keeps its place, nothing re-read
    if step.description is not None and request.method == "GET":
        tally.add(step.description.pk)  # HEAD shows no one the text: not a view
    context = page_context(request, step.description, pool_filter, lap_complete=step.lap_complete)
    response = render(request, "home.html#card" if partial else "home.html", context)
    if partial and step.description is not None:
        push_url(response, context["permalink"])
    set_signed(response, _WALK_COOKIE, walk.with_cursor(pool_filter.key, step.cursor).encode())
    return response


@never_cache
@require_safe
def status(request: HtmxHttpRequest) -> HttpResponse:
    """What the site is doing while it has nothing to serve, for the home page's poller."""
    try:
        pool_filter = _pool_filter(request)
    except _BadFilter as error:
        return _message(request, "No such filter", str(error), status=400)
    next_href = reverse("home") + pool_filter.query
    if not _wants_partial(request):
        return HttpResponseRedirect(next_href)  # without htmx the home page tells it all
    if GeneratedDescription.objects.servable().exists():
        site_status = SiteStatus("ready", "The first descriptions are ready")
    else:
        site_status = _site_status()
    context = {**_status_context(site_status, pool_filter), "next_href": next_href}
    return render(request, "home.html#status", context)


@dataclass(frozen=True)
class SiteStatus:
    """Why there is nothing to serve yet, in words for a visitor; `state` names it for the page."""

    state: str
    heading: str
    detail: str = ""
    step: int = 0
    total_steps: int = 0
    eta: str = ""
    # Set where the site cannot move on by itself: what its operator can do instead.
    operator_step: str = ""

    @property
    def percent(self) -> int:
        return self.step * 100 // self.total_steps if self.total_steps else 0


def _status_context(site_status: SiteStatus, pool_filter: PoolFilter) -> dict[str, Any]:
    return {
        "site_status": site_status,
        "status_url": reverse("status") + pool_filter.query,
        "status_poll_seconds": STATUS_POLL_SECONDS,
        "bootstrap_command": BOOTSTRAP_COMMAND,
    }


def _site_status() -> SiteStatus:
    """From the runs: the one generating, one training or queued, the latest finished or failed."""
    if ModelRun.objects.filter(is_active=True).exists():
        return SiteStatus(
            "writing",
            "Writing the first descriptions",
            "The model is trained and checked. It is writing the first batch now; each one is "
            "checked against the real descriptions before it can appear here.",
        )
    training = ModelRun.objects.filter(status=ModelRun.Status.RUNNING).first()
    if training is not None:
        return _training_status(training)
    if ModelRun.objects.filter(status=ModelRun.Status.QUEUED).exists():
        return SiteStatus(
            "queued",
            "Training is about to start",
            "A fine-tune is queued and starts as soon as the training worker is free.",
        )
    latest = ModelRun.objects.first()
    if latest is None:
        if TrainingTitle.objects.exists():
            return SiteStatus(
                "no-model",
                "No model is training yet",
                "The training titles are in, but no fine-tune has been started. This command "
                "starts one:",
            )
        return SiteStatus(
            "no-data",
            "No training data yet",
            "There are no real descriptions to learn from. This command imports them and "
            "starts training:",
        )
    return _finished_status(latest)


def _training_status(run: ModelRun) -> SiteStatus:
    if not run.total_steps:
        return SiteStatus(
            "training",
            "Training is starting",
            "Loading the base model and the training titles.",
        )
    step = min(run.step, run.total_steps)
    detail = "The model is learning from real descriptions. The site opens when it is done."
    return SiteStatus(
        "training",
        f"Training step {step} of {run.total_steps}",
        detail,
        step=step,
        total_steps=run.total_steps,
        eta=_eta(run, step),
    )


def _eta(run: ModelRun, step: int) -> str:
    """Time left at the pace so far (started_at to the last heartbeat), or to the end of the
    run's time budget where that comes first; empty before a step."""
    if not step or run.started_at is None:
        return ""
    elapsed = (run.heartbeat_at or timezone.now()) - run.started_at
    left = elapsed / step * (run.total_steps - step)
    budget = TrainingConfig.from_dict(run.hyperparameters).max_minutes
    if budget:
        left = max(min(left, timedelta(minutes=budget) - elapsed), timedelta(0))
    minutes = round(left.total_seconds() / 60)
    if minutes < 1:
        return "less than a minute left"
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''} left"
    return f"about {minutes / 60:.1f} hours left"


def _finished_status(run: ModelRun) -> SiteStatus:
    """The latest run is done or failed, and none is active."""
    if run.status == ModelRun.Status.FAILED:
        return SiteStatus(
            "stopped",
            "Training stopped",
            "The fine-tune stopped before the end.",
            operator_step="Running the site's start command again resumes it from its last "
            "checkpoint.",
        )
    if run.activation == Activation.REFUSED:
        return SiteStatus(
            "refused",
            "The model did not pass the quality gate",
            run.activation_problems,
            operator_step="Its operator can train another with other settings, or switch this "
            "one on anyway in the admin.",
        )
    if run.activate_when_good:
        return SiteStatus(
            "evaluating",
            "Evaluating the model",
            "Training is done. The model is writing test descriptions to check that they read "
            "like real ones and copy none; if they pass, it starts writing for this site.",
        )
    return SiteStatus(
        "inactive",
        "A model is trained, but not switched on",
        "It writes for this site once it is switched on.",
        operator_step="A moderator switches it on in the admin once its figures look right.",
    )


@never_cache
@vary_on_headers("HX-Request")
@require_safe
def permalink(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    try:
        pool_filter = _pool_filter(request)
    except _BadFilter as error:
        return _message(request, "No such filter", str(error), status=400)
    servable = with_card_relations(GeneratedDescription.objects.servable())
    description = servable.filter(pk=pk).first()
    if description is None:
        preview = authors_preview(request, pk)  # a pitch waiting for review, for its author only
        if preview is None:
            return _withdrawn(request, pk)
        response = render(request, "permalink.html", card_page_context(request, preview))
        response["X-Robots-Tag"] = "noindex"
        return response
    client = _client(request)
    context = page_context(
        request,
        description,
        pool_filter,
        vote=_vote_of(client, description),
        reported=_has_reported(client, description),
        feedback_message=" ".join(str(message) for message in messages.get_messages(request)),
    )
    return render(request, "permalink.html", context)


@require_POST
@_feedback_rate_limit
def vote(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    description = _feedback_target(request, pk)
    if isinstance(description, HttpResponse):
        return description
    value = request.POST.get("value", "")
    if value not in Vote.Value.values:
        return _message(request, "Unknown vote", "Vote with thumbs up or thumbs down.", 400)
    client = _client(request)
    Vote.objects.cast(description, client, value)
    note = "Glad you'd watch it." if value == Vote.Value.UP else "Noted: not for you."
    return _feedback_response(request, description, client, note)


@require_POST
@_feedback_rate_limit
def report(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    description = _feedback_target(request, pk)
    if isinstance(description, HttpResponse):
        return description
    reason = request.POST.get("reason", "")
    if reason not in Report.Reason.values:
        reasons = ", ".join(Report.Reason.values)
        return _message(request, "Unknown reason", f"Report with one of: {reasons}.", 400)
    client = _client(request)
    seen_hash = seen_text_hash(request.POST.get("seen", ""), description, client)
    if seen_hash is None:
        detail = "Reports are for texts this page showed you: reload it and report again."
        return _message(request, "Reload to report", detail, 403)
    filed = Report.objects.file(description, client, reason, seen_hash)
    if filed == Filed.DUPLICATE:
        note = "You have reported this already."
    else:
        note = "Thanks: a moderator will look at it."
    return _feedback_response(request, description, client, note)


@require_safe
def about(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "about.html")


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = ["User-agent: *", "Allow: /", "Disallow: /healthz/", "Disallow: /livez/"]
    # A custom ADMIN_URL is meant to be unguessable: robots.txt, which anyone reads, keeps it.
    if settings.ADMIN_URL == "admin/":
        lines.append("Disallow: /admin/")
    lines.append(f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}")
    return _text("\n".join(lines) + "\n")


@require_safe
def security_txt(request: HttpRequest) -> HttpResponse:
    """RFC 9116: how to report a vulnerability; none without a configured contact."""
    if not settings.SECURITY_CONTACT:
        raise Http404("No security contact is configured.")
    fields = [
        ("Contact", settings.SECURITY_CONTACT),
        ("Expires", settings.SECURITY_TXT_EXPIRES or _default_security_txt_expiry()),
        ("Preferred-Languages", "en"),
        ("Canonical", request.build_absolute_uri(reverse("security-txt"))),
    ]
    return _text("".join(f"{name}: {value}\n" for name, value in fields))


@once
def _default_security_txt_expiry() -> str:
    # Fixed for the life of the process: a deploy renews it, a request never does.
    expires = datetime.now(UTC) + timedelta(days=SECURITY_TXT_DAYS)
    return expires.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


def _feedback_target(request: HtmxHttpRequest, pk: int) -> GeneratedDescription | HttpResponse:
    """The servable description feedback is for, or the answer refusing it (gone, too fast)."""
    description = GeneratedDescription.objects.servable().filter(pk=pk).first()
    if description is None:
        return _withdrawn(request, pk)
    if getattr(request, "limited", False):  # set by django-ratelimit's decorator
        note = "Too many clicks: wait a minute."
        return _feedback_response(request, description, _client(request), note, 429)
    return description


def page_context(
    request: HtmxHttpRequest,
    description: GeneratedDescription | None,
    pool_filter: PoolFilter,
    *,
    lap_complete: bool = False,
    vote: str | None = None,
    reported: bool = False,
    feedback_message: str = "",
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "description": description,
        "filter": pool_filter,
        "lap_complete": lap_complete,
        "empty_poll_id": EMPTY_POLL_ID,
        **_filter_chips(pool_filter),
    }
    if description is None and not GeneratedDescription.objects.servable().exists():
        # Nothing to serve anywhere: say truthfully why, and poll the status until there is.
        context.update(_status_context(_site_status(), pool_filter))
    if description is not None:
        context.update(_card_context(request, description, pool_filter))
        context.update(vote=vote, reported=reported, feedback_message=feedback_message)
    return context


def card_page_context(
    request: HtmxHttpRequest, description: GeneratedDescription
) -> dict[str, Any]:
    """The context of a card on its own, unfiltered: permalinks and the pitch page show it."""
    return page_context(request, description, PoolFilter())


def _card_context(
    request: HtmxHttpRequest, description: GeneratedDescription, pool_filter: PoolFilter
) -> dict[str, Any]:
    genres = list(description.genres.all())
    path = reverse("permalink", args=[description.pk])
    return {
        **_feedback_urls(path),
        "genres": genres,
        "poster": _poster_colour(genres[0].slug if genres else description.kind),
        "made_by": _made_by(description.model_run),
        "permalink": path + pool_filter.query,
        "share_url": request.build_absolute_uri(path),
        "share_image": request.build_absolute_uri(card_url(description, genres)),
        "report_reasons": Report.Reason.choices,
        "report_token": seen_token(description, _client(request)),
    }


def _feedback_urls(permalink: str) -> dict[str, str]:
    return {"vote_url": f"{permalink}vote/", "report_url": f"{permalink}report/"}


def _made_by(run: ModelRun | None) -> str:
    if run is None:
        return "the model"
    base = run.base.rstrip("/").rsplit("/", 1)[-1]
    return f"model run #{run.pk} ({base})" if base else f"model run #{run.pk}"


def with_card_relations(
    descriptions: QuerySet[GeneratedDescription],
) -> QuerySet[GeneratedDescription]:
    return descriptions.select_related("model_run").prefetch_related("genres")


def _withdrawn(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """410 for a text that was once public and has been taken down; 404 for one never shown."""
    once_public = GeneratedDescription.objects.filter(pk=pk, first_served_at__isnull=False)
    if once_public.exists():
        detail = "A moderator took this description down. There are plenty more."
        return _message(request, "This one was withdrawn", detail, status=410)
    raise Http404("No such description.")


def _feedback_response(
    request: HtmxHttpRequest,
    description: GeneratedDescription,
    client: str,
    note: str,
    status: int = 200,
) -> HttpResponse:
    if _wants_partial(request):
        context = {
            **_feedback_urls(reverse("permalink", args=[description.pk])),
            "description": description,
            "vote": _vote_of(client, description),
            "reported": _has_reported(client, description),
            "feedback_message": note,
            "report_reasons": Report.Reason.choices,
            "report_token": seen_token(description, client),
        }
        response = render(request, "home.html#feedback", context, status=status)
    elif status != 200:
        response = _message(request, "Slow down", note, status=status)
    else:
        messages.info(request, note)
        response = HttpResponseRedirect(reverse("permalink", args=[description.pk]), status=303)
    return response


def _vote_of(client: str, description: GeneratedDescription) -> str | None:
    votes = Vote.objects.filter(description=description, client_key=client)
    return votes.values_list("value", flat=True).first()


def _has_reported(client: str, description: GeneratedDescription) -> bool:
    return Report.objects.filter(description=description, client_key=client).exists()


def _message(request: HtmxHttpRequest, heading: str, detail: str, status: int) -> HttpResponse:
    template = "message.html#message" if _wants_partial(request) else "message.html"
    return render(request, template, {"heading": heading, "detail": detail}, status=status)


def _wants_partial(request: HtmxHttpRequest) -> bool:
    # A history restore after a cache miss needs the whole page, even though it comes from htmx.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _client(request: HttpRequest) -> str:
    """Who votes and reports: the client's address as a keyed hash, whatever its cookies say."""
    return client_key(client_address(request))
