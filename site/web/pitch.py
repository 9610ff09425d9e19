"""Pitch your own: a visitor's title, written up by the model on the gpu worker, shown in place.

The request only validates and queues (generator.queueing.pitch_on_commit); the pitch page polls
its progress with htmx every second, and without JavaScript reloads itself. Until a moderator
approves the text (or PITCH_PUBLISH="immediately"), only its author, known by a signed cookie
(web.pitch_authors), can open the pitch and the text's permalink; others get a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from django.views.decorators.vary import vary_on_headers
from django_ratelimit.decorators import ratelimit  # type: ignore[import-untyped]

from generator import queueing
from generator.ml.pitch_rules import MAX_TITLE_CHARS, TitleError, clean_title
from generator.models import GeneratedDescription, Pitch
from generator.pitch_policy import blocklist
from titles.models import Genre, Kind, TrainingTitle
from web.pitch_authors import (
    author_key,
    new_author_token,
    remember_author,
    request_author_key,
    request_author_token,
)
from web.views import HtmxHttpRequest, card_page_context

POLL_SECONDS = 1
_RATE_GROUP = "web:pitch"
_PROGRESS = "pitch.html#progress"


def _pitch_rate(group: str, request: HtmxHttpRequest) -> str:
    return f"{settings.PITCH_RATE_LIMIT}/h"


# Counted per client address in the shared cache, like feedback (RATELIMIT_IP_META_KEY).
_pitch_rate_limit = ratelimit(
    group=_RATE_GROUP, key="ip", rate=_pitch_rate, method="POST", block=False
)


BUSY = "Our writers are busy with other pitches right now: try again in a minute."


def _limits_counting() -> bool:
    """Whether the cache the rate limits count in answers: with Redis down, django-redis
    (DJANGO_REDIS_IGNORE_EXCEPTIONS) answers None where a working cache says True or False."""
    try:
        answered = cache.add("web:pitch:cache-probe", 1, timeout=5)
    except Exception:  # noqa: BLE001 - each cache backend raises its own connection errors
        return False
    return answered is not None


@dataclass
class _Form:
    """What the visitor typed, kept on an error so nothing they entered is lost."""

    title: str = ""
    kind: str = Kind.MOVIE
    genre: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@_pitch_rate_limit
def new_pitch(request: HtmxHttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, _Form())
    form = _Form(
        title=request.POST.get("title", ""),
        kind=request.POST.get("kind", ""),
        genre=request.POST.get("genre", ""),
    )
    # Without the shared cache the per-address limit cannot count: pitches, each worth a model
    # call, then wait (votes and reports, cheap, let clicks through: RATELIMIT_FAIL_OPEN).
    if not _limits_counting() or Pitch.objects.backlog() >= settings.PITCH_QUEUE_LIMIT:
        form.errors["form"] = BUSY
        response = _form_page(request, form, status=503)
        response["Retry-After"] = "60"
        return response
    if getattr(request, "limited", False):  # set by django-ratelimit's decorator
        limit = settings.PITCH_RATE_LIMIT
        form.errors["form"] = f"That is {limit} pitches this hour from here: try again later."
        return _form_page(request, form, status=429)
    title, genre = _validated(form)
    if form.errors:
        return _form_page(request, form, status=400)
    token = request_author_token(request)
    new_token = token is None
    token = token or new_author_token()
    with transaction.atomic():
        pitch = Pitch.objects.create(
            title=title, kind=form.kind, genre=genre, author_key=author_key(token)
        )
        queueing.pitch_on_commit(pitch.pk)
    response = HttpResponseRedirect(reverse("pitch", args=[pitch.public_id]), status=303)
    if new_token:
        remember_author(response, token)
    return response


@never_cache
@vary_on_headers("HX-Request")
@require_safe
def pitch_page(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    pitch = Pitch.objects.select_related("description").filter(public_id=public_id).first()
    if pitch is None or not _may_see(request, pitch):
        raise Http404("No such pitch.")
    context = _progress_context(request, pitch)
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    response = render(request, _PROGRESS if partial else "pitch.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response


def _may_see(request: HtmxHttpRequest, pitch: Pitch) -> bool:
    """The author always; anyone once its text is public."""
    if pitch.author_key == request_author_key(request):
        return True
    text = pitch.description
    return text is not None and text.status == GeneratedDescription.Status.APPROVED


def _validated(form: _Form) -> tuple[str, Genre | None]:
    """The cleaned title and the genre; problems go into form.errors, per field."""
    title = ""
    try:
        title = clean_title(form.title, blocklist())
    except TitleError as error:
        form.errors["title"] = str(error)
    if title and TrainingTitle.objects.has_title(title):
        form.errors["title"] = "That is a real film or show. Pitch one that does not exist."
    if form.kind not in Kind.values:
        form.errors["kind"] = "Pick a film or a TV show."
        return title, None
    if not form.genre:
        return title, None
    genre = Genre.objects.filter(slug=form.genre).first()
    if genre is None:
        form.errors["genre"] = "Pick a genre from the list, or let the model choose."
    elif genre.pk not in _genre_ids(form.kind):
        kind = Kind(form.kind).label
        form.errors["genre"] = f"{genre.name} is not a {kind} genre here: pick another."
    return title, genre


def _genres_by_kind() -> list[tuple[str, str, list[Genre]]]:
    """(kind, label, genres) with the genres its training titles use, for the form's groups."""
    return [
        (kind, label, list(Genre.objects.filter(pk__in=_genre_ids(kind)).order_by("name")))
        for kind, label in Kind.choices
    ]


def _genre_ids(kind: str) -> set[int]:
    titles = TrainingTitle.objects.filter(kind=kind)
    return set(titles.values_list("genres", flat=True).distinct()) - {None}


def _form_page(request: HtmxHttpRequest, form: _Form, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "kinds": Kind.choices,
        "genre_groups": _genres_by_kind(),
        "max_title": MAX_TITLE_CHARS,
        "publish_at_once": settings.PITCH_PUBLISH == "immediately",
    }
    return render(request, "pitch.html", context, status=status)


def _progress_context(request: HtmxHttpRequest, pitch: Pitch) -> dict[str, Any]:
    waited = (timezone.now() - pitch.created_at).total_seconds()
    context: dict[str, Any] = {
        "pitch": pitch,
        "pitch_url": reverse("pitch", args=[pitch.public_id]),
        "poll_seconds": POLL_SECONDS,
        "waited": int(waited),
        "timed_out": not pitch.finished and waited > settings.PITCH_TIMEOUT,
        "timeout": settings.PITCH_TIMEOUT,
    }
    text = pitch.description if pitch.status == Pitch.Status.DONE else None
    if text is not None:
        text = (
            GeneratedDescription.objects.select_related("model_run")
            .prefetch_related("genres")
            .get(pk=text.pk)
        )
        context.update(card_page_context(request, text))
        context["public"] = text.status == GeneratedDescription.Status.APPROVED
    return context
