"""`/metrics`: the site's own series and its requests in Prometheus' text format, for staff and
the machine only.

The site's series are read from the database at each scrape, so every gunicorn worker answers the
same: fresh texts per pool, texts by status and times served, the last day's batches with their
yield and rejections by reason, pitches waiting and their latency, and the training run's step and
time budget. Requests are counted by RequestMetricsMiddleware in each process; with
PROMETHEUS_MULTIPROC_DIR set (compose does), every worker writes its counts there and a scrape
sums them all. Visitors get a 404 here, and the proxy (deploy/Caddyfile) never forwards the path.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client import Counter as RequestCounter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from config.client import direct_peer
from config.health import may_see_details

WINDOW = timedelta(hours=24)
PITCH_WINDOW = timedelta(hours=1)
METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS"})  # anything else is counted as "other"

_process_registry = CollectorRegistry()
REQUESTS = RequestCounter(
    "tmdne_http_requests",
    "Requests answered, by URL name, method and status",
    ("view", "method", "status"),
    registry=_process_registry,
)
LATENCY = Histogram(
    "tmdne_http_request_seconds",
    "Time from the first middleware to the response, by URL name",
    ("view",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=_process_registry,
)


class RequestMetricsMiddleware:
    """Counts and times every request by its URL's name (a bounded set; unmatched: "unmatched")."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or "unnamed") if match is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(view, method, str(response.status_code)).inc()
        LATENCY.labels(view).observe(time.perf_counter() - started)
        return response


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not (may_see_details(request) or _from_metrics_network(request)):
        raise Http404("No such page.")
    body = generate_latest(_registry()) + generate_latest(request_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def request_registry() -> CollectorRegistry:
    """Every worker's request counts where they share a folder; this process's otherwise."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return _process_registry
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def _from_metrics_network(request: HttpRequest) -> bool:
    """A scraper on a network METRICS_NETWORKS names (compose's, say), asking directly."""
    peer = direct_peer(request)
    return peer is not None and any(
        peer in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_NETWORKS
    )


def _registry() -> CollectorRegistry:
    from generator.models import (
        GeneratedDescription,
        GenerationBatch,
        ModelRun,
        Pitch,
        Pool,
        rejection_counts,
    )
    from generator.pools import fresh_count

    families: list[GaugeMetricFamily] = []

    def gauge(name: str, help_text: str, labels: tuple[str, ...] = ()) -> _Gauge:
        families.append(GaugeMetricFamily(name, help_text, labels=list(labels)))
        return _Gauge(families[-1])

    fresh = gauge("tmdne_pool_fresh_texts", "Fresh texts in each pool", ("pool",))
    low = gauge("tmdne_pool_low_water", "A pool's low-water mark", ("pool",))
    for pool in Pool.objects.select_related("genre"):
        fresh.labels(pool.key).set(fresh_count(pool))
        low.labels(pool.key).set(pool.low_water)

    texts = gauge("tmdne_texts", "Generated texts by status", ("status",))
    for row in GeneratedDescription.objects.values("status").annotate(n=Count("id")):
        texts.labels(row["status"]).set(row["n"])
    served = GeneratedDescription.objects.aggregate(total=Sum("times_served"))["total"] or 0
    gauge("tmdne_texts_served", "Times any text was served, all time").set(served)

    since = timezone.now() - WINDOW
    batches = gauge("tmdne_batches_24h", "Batches created in the last 24 hours", ("status",))
    recent = GenerationBatch.objects.filter(created_at__gte=since)
    for row in recent.values("status").annotate(n=Count("id")):
        batches.labels(row["status"]).set(row["n"])
    done = recent.filter(status=GenerationBatch.Status.DONE)
    totals = done.aggregate(requested=Sum("requested"), accepted=Sum("accepted"))
    requested = totals["requested"] or 0
    gauge("tmdne_batch_yield_24h", "Texts kept per text asked for, last 24 hours").set(
        (totals["accepted"] or 0) / requested if requested else 0
    )
    reasons: Counter[str] = Counter()
    for rejections in done.values_list("rejections", flat=True):
        reasons.update(rejection_counts(rejections))
    rejected = gauge("tmdne_rejections_24h", "Texts held or dropped, by reason", ("reason",))
    for reason, count in reasons.items():
        rejected.labels(reason).set(count)

    pitches = gauge("tmdne_pitches", "Pitches by status", ("status",))
    for row in Pitch.objects.values("status").annotate(n=Count("id")):
        pitches.labels(row["status"]).set(row["n"])
    gauge("tmdne_pitch_backlog", "Pitches queued or being written, in time").set(
        Pitch.objects.backlog()
    )
    finished = Pitch.objects.filter(
        status=Pitch.Status.DONE, finished_at__gte=timezone.now() - PITCH_WINDOW
    ).annotate(took=F("finished_at") - F("created_at"))
    took = [pitch.took.total_seconds() for pitch in finished if pitch.took is not None]
    gauge("tmdne_pitch_latency_seconds", "Mean time to write a pitch, last hour").set(
        sum(took) / len(took) if took else 0
    )

    running = ModelRun.objects.filter(status=ModelRun.Status.RUNNING).order_by("-pk").first()
    step = gauge("tmdne_training_step", "The running fine-tune's step (0: none)")
    total = gauge("tmdne_training_total_steps", "The running fine-tune's planned steps")
    if running is not None:
        step.set(running.step)
        total.set(running.total_steps or 0)
    registry = CollectorRegistry()
    registry.register(_Families(families))
    return registry


class _Gauge:
    """A series read at each scrape, as a metric family: a Gauge would keep its value, and under
    PROMETHEUS_MULTIPROC_DIR write it to a file per process, summed with every other's."""

    def __init__(self, family: GaugeMetricFamily, values: tuple[str, ...] = ()) -> None:
        self.family, self.values = family, values

    def labels(self, *values: str) -> _Gauge:
        return _Gauge(self.family, values)

    def set(self, value: float) -> None:
        self.family.add_metric(list(self.values), value)


class _Families(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families
