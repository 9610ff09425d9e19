"""/metrics: the site's series in Prometheus' format, for staff, the machine and its network."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from generator.models import GenerationBatch, ModelRun, Pitch, Pool
from tests.factories import make_pool

pytestmark = pytest.mark.django_db


def _series(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_machine_itself_reads_the_sites_series() -> None:
    run = ModelRun.objects.create(base="tiny", status="running", step=40, total_steps=300)
    Pool.objects.create(key="all", low_water=5, high_water=10)
    make_pool(3, run=run)
    GenerationBatch.objects.create(
        model_run=run, requested=16, accepted=12, status="done", rejections={"too_short": 3}
    )
    pitch = Pitch.objects.create(title="An Invented Title", kind="movie", author_key="k")
    Pitch.objects.filter(pk=pitch.pk).update(
        status="done", finished_at=timezone.now(), created_at=timezone.now() - timedelta(seconds=8)
    )
    Pitch.objects.create(title="Another Invented Title", kind="movie", author_key="k")

    answer = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")

    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    series = _series(answer.content.decode())
    assert series[("tmdne_pool_fresh_texts", (("pool", "all"),))] == 3
    assert series[("tmdne_pool_low_water", (("pool", "all"),))] == 5
    assert series[("tmdne_texts", (("status", "approved"),))] == 3
    assert series[("tmdne_batch_yield_24h", ())] == 0.75
    assert series[("tmdne_rejections_24h", (("reason", "too_short"),))] == 3
    assert series[("tmdne_pitch_backlog", ())] == 1
    assert series[("tmdne_pitch_latency_seconds", ())] == pytest.approx(8, abs=1)
    assert (series[("tmdne_training_step", ())], series[("tmdne_training_total_steps", ())]) == (
        40,
        300,
    )


def test_visitors_and_proxied_requests_get_a_404(settings: Any) -> None:
    settings.METRICS_NETWORKS = ["172.30.0.0/24"]

    visitor = Client(REMOTE_ADDR="203.0.113.7").get("/metrics")
    relayed = Client(REMOTE_ADDR="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.7"})

    assert visitor.status_code == 404
    assert relayed.get("/metrics").status_code == 404


def test_staff_and_the_scrapers_network_read_it(settings: Any) -> None:
    settings.METRICS_NETWORKS = ["172.30.0.0/24"]
    staff = Client(REMOTE_ADDR="203.0.113.7")
    staff.force_login(User.objects.create_user("ops", is_staff=True))

    assert staff.get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="172.30.0.9").get("/metrics").status_code == 200


def test_the_grafana_dashboard_charts_only_series_the_site_exposes() -> None:
    import json
    import re

    dashboard = json.loads(
        (Path(__file__).resolve().parent.parent / "deploy" / "grafana-dashboard.json").read_text()
    )
    Client().get("/")  # a request, so the request series have samples
    exposed = {
        name
        for family in text_string_to_metric_families(
            Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
        )
        for name in (family.name, *(sample.name for sample in family.samples))
    }
    charted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"tmdne_\w+", target["expr"])
    }
    assert charted and charted <= exposed, charted - exposed


def _requests(view: str, status: str) -> float:
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    labels = (("method", "GET"), ("status", status), ("view", view))
    return _series(text).get(("tmdne_http_requests_total", labels), 0.0)


def test_requests_are_counted_by_page_and_status_and_timed() -> None:
    home_before, missing_before = _requests("home", "200"), _requests("unmatched", "404")

    Client().get("/")
    Client().get("/")
    Client().get("/no-such-page/")

    assert _requests("home", "200") - home_before == 2
    assert _requests("unmatched", "404") - missing_before == 1
    series = _series(Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode())
    assert series[("tmdne_http_request_seconds_count", (("view", "home"),))] >= 2


MULTIPROCESS_SCRIPT = """
import os, sys
import django
django.setup()
from django.test import RequestFactory
from django.http import HttpResponse
from config.metrics import RequestMetricsMiddleware, request_registry

middleware = RequestMetricsMiddleware(lambda request: HttpResponse(status=204))
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        middleware(RequestFactory().get("/nowhere/"))
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
from django.core.management import call_command
from config.metrics import metrics
call_command("migrate", verbosity=0)
scrape = RequestFactory().get("/metrics", REMOTE_ADDR="127.0.0.1")
sys.stdout.write(metrics(scrape).content.decode())
"""


def test_with_a_shared_folder_a_scrape_sums_every_workers_requests(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    counts = tmp_path / "metrics"
    counts.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(counts),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": os.pathsep.join([str(root), str(root / "site")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    labels = (("method", "GET"), ("status", "204"), ("view", "unmatched"))
    series = _series(done.stdout)
    assert series[("tmdne_http_requests_total", labels)] == 3
    # The site's own series are read at the scrape: once each, in no process's file.
    assert series[("tmdne_pitch_backlog", ())] == 0
    assert "pid=" not in done.stdout
    assert {path.name.split("_")[0] for path in counts.iterdir()} == {"counter", "histogram"}
