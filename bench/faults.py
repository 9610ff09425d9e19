"""Inject real faults into real processes and check that nothing is lost or duplicated.

    .venv/bin/python bench/faults.py

Starts a private PostgreSQL cluster and a private Redis (append-only file on) on spare loopback
ports, so the machine's own services are never touched, then runs gunicorn and Celery workers
against them and, one after another:

1. kills a Celery worker with SIGKILL in the middle of a generation batch, starts a new one, and
   checks the batch is redelivered and completes once, with no duplicate and no lost text;
2. stops Redis while the site serves: pages keep coming from the database, the top-up nudge
   fails quietly, /healthz answers 200 "degraded" naming the broker; Redis comes back and so does
   its status;
3. restarts Redis with work queued: the queued batches survive (AOF) and complete;
4. restarts PostgreSQL while the site serves: the site recovers with no restart of its own.

Then, on the production topology (deploy/topology.py: Caddy in front of two sync gunicorn workers):

5. slow clients: 2, 10 and 50 sockets holding a partial request line or headers, against gunicorn
   directly (the attack as reported) and through the proxy, with normal visitors' p99 and failures;
6. a gunicorn worker killed with SIGKILL three times under load through the proxy: requests lost.

Each step prints PASS or FAIL with its figures; the exit status is non-zero on any failure.
`--proxy-only` runs steps 5 and 6 alone. `--report-flood` (in one process, SQLite) floods reports:
from 3 and 100 addresses against texts they were never shown (nothing may go down), from
reporters shown the texts against the "all" pool (at most REPORT_HIDES_PER_HOUR go down and one
top-up plans the refill), from one address dropping cookies, and again after an approval.
`--report-flood-http` runs the first two over real sockets: a gunicorn on SQLite, each attacker an
HTTP client bound to its own loopback address (127.0.0.2 and up).
`--pitch-flood` (in-process, a tiny model): 200 addresses pitch at once; at most
PITCH_QUEUE_LIMIT are taken, the rest are told the site is busy, and the next pool batch writes
the queued ones at its pause points and finishes inside its time limit. `--card-sweep`
(in-process): every share-card URL and as many unknown ids, asked at once, draw nothing; beat's
sweep draws them after.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.services import (  # noqa: E402
    PrivateCluster,
    free_port,
    port_open,
    redis_command,
    wait_for,
    wait_for_port,
)
from deploy.topology import (  # noqa: E402
    SITE_HOST,
    SlowClients,
    Topology,
    percentile,
    prerequisites,
    slow_client_check,
)

PYTHON = sys.executable
BIN = Path(sys.executable).parent


class Postgres(PrivateCluster):
    """The private cluster the fault scenarios stop and restart."""

    def __init__(self, workdir: Path) -> None:
        workdir.chmod(0o755)  # the postgres user reaches its cluster inside
        super().__init__(workdir / "pg", free_port())
        self.init()

    def start(self) -> None:
        self.ctl("start")

    def stop(self) -> None:
        self.ctl("stop")

    def restart(self) -> None:
        self.ctl("restart")


class Redis:
    """A private Redis with an append-only file, so queued work survives its restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = redis_command(self.port, self.dir, persistent=True)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for_port(self.port, 10, "redis")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        wait_for(lambda: not port_open(self.port), 10, "redis to stop")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Site:
    """Django processes (gunicorn, Celery workers, one-off scripts) sharing one environment."""

    def __init__(self, workdir: Path, postgres: Postgres, redis: Redis) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": postgres.url(),
            "REDIS_URL": redis.url,
            "DATA_DIR": str(workdir / "data"),
            "STATIC_ROOT": str(workdir / "static"),
            "SITE_HTTPS": "0",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECRET_KEY": "faults-bench-" + "x" * 50,
            "CELERY_VISIBILITY_TIMEOUT": "5",  # a killed worker's batch comes back in seconds
            "POOL_NUDGE_INTERVAL": "2",
            "DB_CONN_MAX_AGE": "60",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'site'}",
        }
        self.web: subprocess.Popen | None = None
        self.web_log = workdir / "web.log"
        self.workers: list[subprocess.Popen] = []

    def django(self, code: str) -> str:
        script = "import django; django.setup()\n" + textwrap.dedent(code)
        result = subprocess.run(
            [PYTHON, "-c", script],
            env={**self.env, "DJANGO_SETTINGS_MODULE": "config.settings"},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-2000:])
        return result.stdout

    def manage(self, *args: str) -> None:
        subprocess.run(
            [PYTHON, "manage.py", *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--chdir",
                str(ROOT / "site"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--log-level",
                "warning",
                "--no-control-socket",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=self.web_log.open("a"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, 30, "gunicorn")

    def start_worker(self, name: str) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("a")
        worker = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "celery_app",
                "worker",
                "-Q",
                "gpu,default",
                "-P",
                "solo",
                "-n",
                f"{name}@%h",
                "--prefetch-multiplier",
                "1",
                "-l",
                "INFO",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(worker)
        return worker

    def get(self, path: str) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": "127.0.0.1"})
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except OSError as exc:
            return 0, str(exc)
        finally:
            connection.close()

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        if self.web and self.web.poll() is None:
            self.web.terminate()
        for process in [*self.workers, *([self.web] if self.web else [])]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


SEED = """
from generator.models import GeneratedDescription, ModelRun
from titles.models import Genre
from tests.tiny_model import build_trained_tiny_checkpoint
from pathlib import Path
import os
import re
for name in ("Dramas", "Comedies", "TV Horror", "Docuseries", "Thrillers", "TV Comedies"):
    Genre.objects.get_or_create(name=name, slug=Genre.slug_for(name))
checkpoint = build_trained_tiny_checkpoint(Path(os.environ["DATA_DIR"]) / "tiny")
ModelRun.objects.create(base="tiny", status="done", checkpoint_path=str(checkpoint),
                        is_active=True)
GeneratedDescription.objects.bulk_create([
    GeneratedDescription(title=f"Invented {i}", kind="movie", text=f"Invented story number {i}.",
                         text_hash=f"seed{i}", status="approved")
    for i in range(200)
])
"""

QUEUE_BATCHES = """
from generator.models import ModelRun
from generator.pools import create_batches
from generator.tasks import generate_batch
run = ModelRun.objects.active()
ids = []
for _ in range({count}):
    ids += create_batches(run, None, 1, {size})
for batch_id in ids:
    generate_batch.delay(batch_id)
print(",".join(map(str, ids)))
"""

BATCH_STATE = """
import json
from generator.models import GeneratedDescription, GenerationBatch
ids = [{ids}]
batches = GenerationBatch.objects.filter(pk__in=ids)
rows = GeneratedDescription.objects.filter(batch__in=ids)
hashes = list(rows.values_list("text_hash", flat=True))
print(json.dumps({{
    "statuses": sorted(b.status for b in batches),
    "accepted": sum(b.accepted for b in batches),
    "stored": rows.count(),
    "held": rows.filter(status="overfit").count(),
    "unique": len(set(hashes)) == len(hashes),
}}))
"""


def _top_ups_received(site: Site) -> int:
    return sum(
        log.read_text().count("generator.top_up_pools[") for log in site.workdir.glob("*.log")
    )


def _batch_state(site: Site, ids: list[int]) -> dict:
    return json.loads(site.django(BATCH_STATE.format(ids=",".join(map(str, ids)))))


def _done(site: Site, ids: list[int]) -> bool:
    return _batch_state(site, ids)["statuses"] == ["done"] * len(ids)


def fault_worker_killed(site: Site) -> bool:
    worker = site.start_worker("victim")
    ids = [int(i) for i in site.django(QUEUE_BATCHES.format(count=1, size=64)).split(",")]
    wait_for(lambda: "running" in _batch_state(site, ids)["statuses"], 60, "the batch to start")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_state = _batch_state(site, ids)
    site.start_worker("rescuer")
    wait_for(lambda: _done(site, ids), 180, "the redelivered batch")
    state = _batch_state(site, ids)
    ok = (
        killed_state["stored"] == 0
        and state["unique"]
        and state["stored"] == state["accepted"] + state["held"]
    )
    print(
        f"{'PASS' if ok else 'FAIL'} worker SIGKILL mid-batch: stored {killed_state['stored']} "
        f"when killed; after redelivery {state['stored']} stored = {state['accepted']} accepted "
        f"+ {state['held']} held, duplicates: {'none' if state['unique'] else 'FOUND'}"
    )
    return ok


def fault_redis_down_while_serving(site: Site, redis: Redis) -> bool:
    before = [site.get("/")[0] for _ in range(10)]
    redis.stop()
    started = time.monotonic()
    during = [site.get("/") for _ in range(40)]
    elapsed = time.monotonic() - started
    health_status, health_body = site.get("/healthz/")
    # Pages still serve: degraded (200), the broker named as failing.
    broker_down = health_status == 200 and '"broker": {"ok": false' in health_body
    nudges_before = _top_ups_received(site)
    redis.start()
    wait_for(lambda: '"status": "ok"' in site.get("/healthz/")[1], 30, "healthz to recover")
    time.sleep(2.5)  # past the nudge interval
    site.get("/")
    try:
        wait_for(lambda: _top_ups_received(site) > nudges_before, 30, "a nudged top-up")
        nudged = True
    except TimeoutError:
        nudged = False
    served = sum(1 for status, body in during if status == 200 and "data-description-id" in body)
    if served != len(during):
        status, body = next((s, b) for s, b in during if s != 200 or "data-description-id" not in b)
        print(f"  first bad answer: {status} {body[:300]!r}")
    ok = before == [200] * 10 and served == len(during) and broker_down and nudged
    print(
        f"{'PASS' if ok else 'FAIL'} Redis stopped while serving: {served}/{len(during)} pages "
        f"served ({elapsed / len(during) * 1000:.0f} ms each), /healthz {health_status} with the "
        f"broker down; after the restart /healthz 200 and the next page view nudged a top-up: "
        f"{nudged}"
    )
    return ok


def fault_redis_restart_with_queued_work(site: Site, redis: Redis) -> bool:
    for worker in site.workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
    ids = [int(i) for i in site.django(QUEUE_BATCHES.format(count=2, size=8)).split(",")]
    redis.stop()
    redis.start()
    site.start_worker("after-restart")
    wait_for(lambda: _done(site, ids), 180, "queued batches after the Redis restart")
    state = _batch_state(site, ids)
    ok = state["unique"] and state["stored"] == state["accepted"] + state["held"]
    print(
        f"{'PASS' if ok else 'FAIL'} Redis restarted with 2 batches queued: both done, "
        f"{state['stored']} texts stored, duplicates: {'none' if state['unique'] else 'FOUND'}"
    )
    return ok


def fault_postgres_restart(site: Site, postgres: Postgres) -> bool:
    before = [site.get("/")[0] for _ in range(10)]
    postgres.restart()
    after = [site.get("/")[0] for _ in range(40)]
    failed = sum(status != 200 for status in after)
    if failed:
        print("  web log tail:\n" + "\n".join(site.web_log.read_text().splitlines()[-15:]))
    ok = before == [200] * 10 and after[-20:] == [200] * 20
    print(
        f"{'PASS' if ok else 'FAIL'} PostgreSQL restarted while serving: {failed} of "
        f"{len(after)} requests after the restart failed; the last 20 answered "
        f"{sorted(set(after[-20:]))}, with no restart of the site"
    )
    return ok


def _direct_visits(port: int, count: int, timeout: float) -> tuple[list[float], int]:
    """Page loads straight from gunicorn (no proxy), each on a new connection as the attack saw."""
    latencies: list[float] = []
    failures = 0
    for _ in range(count):
        began = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            headers = {"Host": SITE_HOST, "X-Forwarded-Proto": "https"}
            connection.request("GET", "/", headers=headers)
            ok = connection.getresponse().status == 200
        except OSError:
            ok = False
        finally:
            connection.close()
        latencies.append((time.monotonic() - began) * 1000)
        failures += not ok
    return latencies, failures


def fault_slow_clients(topology: Topology) -> bool:
    # The attack as reported, straight at gunicorn's two sync workers: for contrast, not a check.
    with SlowClients([(topology.ports["web"], None)], 2, 20).held():
        time.sleep(0.5)
        latencies, failures = _direct_visits(topology.ports["web"], 10, timeout=2)
    print(
        f"INFO 2 slow sockets straight at gunicorn (no proxy): {failures} of {len(latencies)} "
        f"normal requests failed (2 s client timeout)"
    )
    results = []
    for count in (2, 10, 50):
        ok, line = slow_client_check(topology, count, seconds=10)
        print(f"{'PASS' if ok else 'FAIL'} through the proxy, {line}")
        results.append(ok)
    return all(results)


def fault_gunicorn_worker_killed(topology: Topology) -> bool:
    answers: list[int] = []  # statuses; 0 for a request that got no answer at all
    latencies: list[float] = []
    stop = threading.Event()

    def visitor_loop() -> None:
        visitor = topology.visitor()
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                answer = visitor.get("/")
                answers.append(answer.status if "data-description-id" in answer.body else -1)
                latencies.append(answer.seconds * 1000)
            except OSError:
                answers.append(0)
                visitor.close()
        visitor.close()

    threads = [threading.Thread(target=visitor_loop, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    killed = []
    for _ in range(3):
        time.sleep(2)
        victim = topology.gunicorn_workers()[0]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join(35)
    lost = [status for status in answers if status != 200]
    replaced = not set(killed) & set(topology.gunicorn_workers())
    ok = not lost and replaced and len(answers) > 50
    print(
        f"{'PASS' if ok else 'FAIL'} 3 gunicorn workers SIGKILLed under load through the proxy "
        f"(4 visitors, 2 workers): {len(answers)} requests, lost: {len(lost) or 'none'} "
        f"{sorted(set(lost)) if lost else ''}; p99 {percentile(latencies, 0.99):.0f} ms; "
        f"workers respawned: {replaced}"
    )
    return ok


def proxy_faults() -> list[bool]:
    if missing := prerequisites():
        print(f"FAIL the production topology needs {', '.join(missing)}")
        return [False]
    workdir = Path(tempfile.mkdtemp(prefix="tmdne-faults-proxy-"))
    try:
        with Topology(workdir) as topology:
            return [fault_slow_clients(topology), fault_gunicorn_worker_killed(topology)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxy-only", action="store_true", help="only the proxy faults (5, 6)")
    if parser.parse_args().proxy_only:
        results = proxy_faults()
        print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
        return 0 if all(results) else 1
    if os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("redis-server"):
        print("needs root, runuser, PostgreSQL's server binaries and redis-server")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tmdne-faults-"))
    postgres, redis = Postgres(workdir), Redis(workdir)
    postgres.start()
    redis.start()
    site = Site(workdir, postgres, redis)
    results = []
    try:
        site.manage("migrate", "--no-input")
        site.manage("collectstatic", "--no-input")
        site.django(SEED)
        site.start_web()
        results.append(fault_worker_killed(site))
        results.append(fault_redis_down_while_serving(site, redis))
        results.append(fault_redis_restart_with_queued_work(site, redis))
        results.append(fault_postgres_restart(site, postgres))
    finally:
        site.stop()
        redis.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results += proxy_faults()
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


def report_flood() -> int:
    """`--report-flood`: 100 addresses and 100 cookieless sessions report and vote, in-process.

    Runs the site's views through Django's test client on a throwaway SQLite database, one fresh
    client (no cookies) per request and REMOTE_ADDR set per request, as if each came straight
    from that address (no proxy). The feedback rate limit is raised so that what is measured is
    the one-voter-per-address rule, not the limiter.
    """
    settings = {"FEEDBACK_RATE_LIMIT": "100000", "REPORT_HIDE_THRESHOLD": "3"}
    return _in_process("flood", settings, lambda workdir: _report_flood())


def _in_process(name: str, settings: dict[str, str], scenario: Callable[[Path], bool]) -> int:
    """Run `scenario` in this process on a throwaway SQLite site (migrated, static collected)
    with `settings` on top of the bench's; 0 when it passes."""
    workdir = Path(tempfile.mkdtemp(prefix=f"tmdne-{name}-"))
    for variable in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(variable, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=str(workdir),
        STATIC_ROOT=str(workdir / "static"),
        SECRET_KEY=f"{name}-bench-" + "y" * 50,
        SITE_HTTPS="0",
        ALLOWED_HOSTS="testserver",
        **settings,
    )
    sys.path.insert(0, str(ROOT / "site"))
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        return 0 if scenario(workdir) else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _report_flood() -> bool:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from generator import moderation, queueing
    from generator.models import GeneratedDescription
    from tests.pages import SEEN_TOKEN
    from web.models import Report, hide_threshold

    queueing.nudge_top_up = lambda: None  # no broker here: serving must not try to queue a top-up
    single, spread, votes = (
        _public_text(f"target {name}") for name in ("single", "spread", "votes")
    )
    first = [f"198.18.0.{n}" for n in range(1, 101)]
    second = [f"198.18.1.{n}" for n in range(1, 101)]

    def post(address: str, text: GeneratedDescription, action: str, data: dict) -> int:
        client = Client(REMOTE_ADDR=address, headers={"HX-Request": "true"})
        return client.post(f"/d/{text.pk}/{action}/", data).status_code

    def shown(address: str, text: GeneratedDescription) -> str:
        """The report token the text's page gives `address` (a client it was shown to)."""
        page = Client(REMOTE_ADDR=address).get(f"/d/{text.pk}/").content.decode()
        found = SEEN_TOKEN.search(page)
        return found.group(1) if found else ""

    def report(address: str, text: GeneratedDescription, seen: str | None = None) -> int:
        token = shown(address, text) if seen is None else seen
        return post(address, text, "report", {"reason": "offensive", "seen": token})

    # 0. Texts the reporters were never shown (ids from /fresh/, the sitemap, counting up).
    targets = [_public_text(f"target unseen {n}") for n in range(10)]
    unseen_answers: list[int] = []
    for addresses in (first[:3], first):
        for address in addresses:
            unseen_answers += [report(address, text, seen="") for text in targets]
    unseen_hidden = GeneratedDescription.objects.filter(
        pk__in=[text.pk for text in targets]
    ).exclude(status="approved")
    unseen_ok = not unseen_hidden.exists() and set(unseen_answers) == {403}
    print(
        f"{'PASS' if unseen_ok else 'FAIL'} 3, then 100 addresses x 10 texts they were never "
        f"shown: {len(unseen_answers)} reports, answers {sorted(set(unseen_answers))}, "
        f"{Report.objects.filter(description__in=targets).count()} landed, "
        f"{unseen_hidden.count()} texts lost"
    )

    # 1. One address, 100 sessions that each drop their cookies (the page shown once).
    seen = shown("203.0.113.7", single)
    for _ in range(100):
        report("203.0.113.7", single, seen)
    single.refresh_from_db()
    one_counts_once = single.report_count == 1 and single.status == "approved"

    # 2. 100 addresses report one text: it is hidden at the threshold, the rest find it gone.
    answers = [report(address, spread) for address in first]
    spread.refresh_from_db()
    landed = Report.objects.filter(description=spread).count()
    hidden_at_threshold = spread.status == "pending" and landed == 3

    # 3. A moderator approves it; its reporters come back, then addresses that never reported.
    moderator = get_user_model().objects.create_user("flood-moderator")
    moderation.decide([spread], moderation.DECISIONS["approve"], moderator)
    spread.refresh_from_db()
    raised = hide_threshold(spread)
    reporters = [address for address, code in zip(first, answers, strict=True) if code == 200]
    again = [report(address, spread) for address in reporters]
    spread.refresh_from_db()
    replay_counted = spread.report_count
    hidden_with = None
    for address in [address for address in first if address not in reporters] + second:
        report(address, spread)
        spread.refresh_from_db()
        if spread.status != "approved":
            hidden_with = spread.report_count
            break
    approved_kept = replay_counted == 0 and hidden_with is not None and hidden_with >= raised

    # 4. Votes: 100 cookieless sessions from one address, then 100 addresses.
    for _ in range(100):
        post("203.0.113.7", votes, "vote", {"value": "up"})
    votes.refresh_from_db()
    one_address_votes = votes.up_votes
    for address in first:
        post(address, votes, "vote", {"value": "up"})
    votes.refresh_from_db()
    votes_ok = one_address_votes == 1 and votes.up_votes == 101

    refills = _report_flood_refill(first + second, report)
    ok = unseen_ok and one_counts_once and hidden_at_threshold and approved_kept and votes_ok
    ok = ok and refills
    statuses = {code: answers.count(code) for code in sorted(set(answers))}
    print(
        f"{'PASS' if one_counts_once else 'FAIL'} one address, 100 cookieless sessions: "
        f"{single.report_count} report landed, text {single.status}"
    )
    print(
        f"{'PASS' if hidden_at_threshold else 'FAIL'} 100 addresses: {landed} reports landed "
        f"before the text went to review (threshold 3); answers {statuses}"
    )
    print(
        f"{'PASS' if approved_kept else 'FAIL'} after a moderator's approval: threshold {raised}; "
        f"its {len(reporters)} reporters again added {replay_counted} (answers "
        f"{sorted(set(again))}); "
        f"new addresses hid it with {hidden_with} reports, none with fewer than {raised}"
    )
    print(
        f"{'PASS' if votes_ok else 'FAIL'} votes: 100 cookieless sessions from one address "
        f"gave up_votes={one_address_votes}; 100 more addresses gave {votes.up_votes}"
    )
    return ok


def _public_text(name: str) -> Any:
    """An approved, invented text for the flood to aim at."""
    from generator.models import GeneratedDescription

    return GeneratedDescription.objects.create(
        title=f"Flood {name}", kind="movie", text=f"An invented story, {name}.", status="approved"
    )


def _report_flood_refill(addresses: list[str], report: Callable[..., int]) -> bool:
    """Reporters shown the texts flood the "all" pool: at most REPORT_HIDES_PER_HOUR go down,
    and one top-up plans enough batches to bring the pool back above its low-water mark."""
    from django.conf import settings

    from generator import pools
    from generator.models import GeneratedDescription, ModelRun

    ModelRun.objects.create(
        base="flood", status="done", checkpoint_path="/nonexistent/flood", is_active=True
    )
    pool = pools.sync_pools()[0]
    have = pools.fresh_count(pool)
    texts = [_public_text(f"pool text {n}") for n in range(max(0, pool.low_water + 10 - have))]
    before = pools.fresh_count(pool)
    attacked = texts[:40]
    for index, text in enumerate(attacked):
        for address in addresses[index % 50 :: 50][:3]:  # three shown reporters a text
            report(address, text)
    hidden = GeneratedDescription.objects.filter(hidden_at__isnull=False).count()
    reported = sum(1 for text in attacked if text.reports.count() >= settings.REPORT_HIDE_THRESHOLD)
    after = pools.fresh_count(pool)
    planned = [result for result in pools.top_up(16) if result.pool == pool.key]
    batches = len(planned[0].batch_ids) if planned else 0
    refill = after + round(batches * 16 * pools.expected_yield(pool))
    ok = hidden <= settings.REPORT_HIDES_PER_HOUR and refill >= pool.low_water
    print(
        f"{'PASS' if ok else 'FAIL'} shown reporters flood the 'all' pool ({before} fresh, low "
        f"water {pool.low_water}): {reported} texts got enough reports, {hidden} went down (cap "
        f"{settings.REPORT_HIDES_PER_HOUR} an hour, the rest wait for a moderator); fresh "
        f"{after}; one top-up queued {batches} batches of 16, about {refill} fresh after them"
    )
    return ok


def pitch_flood() -> int:
    """`--pitch-flood`: 200 addresses pitch at once, then a pool batch runs, in-process.

    A tiny trained model writes (the pitches' texts are not the point: the work they cost is);
    the site's views run through Django's test client on a throwaway SQLite database.
    """
    # The tiny model writes no English: the reader checks would hold everything it writes.
    return _in_process("pitch-flood", {"GENERATION_READER_CHECKS": "0"}, _pitch_flood)


def _pitch_flood(workdir: Path) -> bool:
    from django.conf import settings
    from django.test import Client

    from generator import pools, queueing
    from generator.ml import sampling
    from generator.models import GenerationBatch, ModelRun, Pitch
    from generator.pipeline import run_batch
    from generator.tasks import GENERATE_BATCH_SOFT_TIME_LIMIT
    from tests.tiny_model import build_trained_tiny_checkpoint
    from titles.models import Genre, TrainingTitle

    queueing.pitch_on_commit = lambda pitch_id: None  # no broker: the batch's pause points write
    genre = Genre.objects.create(name="Dramas", slug=Genre.slug_for("Dramas"))
    title = TrainingTitle.objects.create(
        show_id="s1", title="An Invented Film", kind="movie", description="An invented story."
    )
    title.genres.add(genre)
    checkpoint = build_trained_tiny_checkpoint(workdir / "tiny")
    run = ModelRun.objects.create(
        base="tiny", status="done", checkpoint_path=str(checkpoint), is_active=True
    )
    answers = [
        Client(REMOTE_ADDR=f"198.18.{n // 250}.{n % 250 + 1}").post(
            "/pitch/", {"title": f"Invented Flood Title {n}", "kind": "movie"}
        )
        for n in range(200)
    ]
    codes = [answer.status_code for answer in answers]
    busy = [a for a in answers if a.status_code == 503]
    told = all(b"Our writers are busy" in a.content and a["Retry-After"] for a in busy)
    (batch_id,) = pools.create_batches(run, None, 1, 16)
    # The tiny model decodes a batch in well under the 1 s between pause points: pause at every
    # step instead, so the waiting pitches are written inside this batch, as on a real model.
    sampling.PAUSE_EVERY_SECONDS = 0.0
    started = time.monotonic()
    run_batch(batch_id)
    seconds = time.monotonic() - started
    batch = GenerationBatch.objects.get(pk=batch_id)
    written = Pitch.objects.exclude(status=Pitch.Status.QUEUED).count()
    ok = (
        codes.count(303) == settings.PITCH_QUEUE_LIMIT
        and codes.count(503) == 200 - settings.PITCH_QUEUE_LIMIT
        and told
        and batch.status == GenerationBatch.Status.DONE
        and seconds < GENERATE_BATCH_SOFT_TIME_LIMIT
    )
    print(
        f"{'PASS' if ok else 'FAIL'} 200 addresses pitch at once: {codes.count(303)} accepted "
        f"(PITCH_QUEUE_LIMIT {settings.PITCH_QUEUE_LIMIT}), {codes.count(503)} refused with "
        f"'busy, try again in a minute' and Retry-After ({'all' if told else 'NOT all'}); "
        f"the next pool batch wrote {written} of them at its pause points and finished "
        f"{batch.status} in {seconds:.1f} s (time limit {GENERATE_BATCH_SOFT_TIME_LIMIT} s)"
    )
    return ok


def card_sweep() -> int:
    """`--card-sweep`: ask for the share card of every id and of ids that do not exist, in-process:
    no request may draw one. Then beat's sweep draws them, and the same requests serve files."""
    return _in_process("card-sweep", {"API_RATE_LIMIT": "1000000"}, lambda workdir: _card_sweep())


def _card_sweep() -> bool:
    from django.conf import settings
    from django.test import Client

    from generator.tasks import sweep_cards

    texts = [_public_text(f"card {n}") for n in range(300)]
    client = Client()
    urls = [f"/d/{text.pk}/card.png" for text in texts]
    urls += [f"/d/{900000 + n}/card.png" for n in range(300)]  # ids that do not exist
    started = time.monotonic()
    answers = [client.get(url, follow=False) for url in urls]
    seconds = time.monotonic() - started
    directory = Path(settings.SHARE_CARD_DIR)
    drawn_by_requests = len(list(directory.glob("*.png"))) if directory.is_dir() else 0
    codes = sorted({answer.status_code for answer in answers})
    swept_at = time.monotonic()
    drawn, deleted = sweep_cards.apply().get()
    sweep_seconds = time.monotonic() - swept_at
    served = [client.get(url, follow=True).status_code for url in urls[:300]]
    ok = drawn_by_requests == 0 and drawn == 300 and set(served) == {200}
    print(
        f"{'PASS' if ok else 'FAIL'} a sweep of every card URL (300 texts, 300 unknown ids): "
        f"{len(urls)} requests in {seconds:.1f} s ({seconds / len(urls) * 1000:.1f} ms each, "
        f"answers {codes}), {drawn_by_requests} cards drawn on the request path; beat's sweep "
        f"then drew {drawn} in {sweep_seconds:.0f} s ({sweep_seconds / max(drawn, 1) * 1000:.0f} "
        f"ms each), deleted {deleted}, and the 300 cards served as files"
    )
    return ok


def report_flood_http() -> int:
    """`--report-flood-http`: the report flood over real sockets, from loopback addresses.

    A gunicorn (2 workers, like `dev.py run`) on a throwaway SQLite pool of 200 invented texts;
    each attacker is an HTTP client bound to its own address, 127.0.0.2 and up, so the site sees
    the socket's peer as it would a visitor's. First 3, then 100 addresses report 10 texts they
    were never shown; then 100 addresses that were each shown their texts report 40 texts three
    times each. Prints what was lost.
    """
    from bench.serve import Server, build_database, new_database, prepare_workdir

    workdir = Path(tempfile.mkdtemp(prefix="tmdne-flood-http-"))
    try:
        prepare_workdir(workdir)
        database = new_database(workdir, "sqlite", "flood")
        build_database(workdir, database, 200)
        settings = {"FEEDBACK_RATE_LIMIT": "100000", "REPORT_HIDE_THRESHOLD": "3"}
        server = Server(workdir, database, workers=2, threads=1, settings=settings)
        try:
            flooded = _report_flood_http(server.port, workdir / "flood.sqlite3")
        finally:
            server.stop()
        refills = _refill_after_flood(workdir, database)
        return 0 if flooded and refills else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Attacker:
    """One HTTP client on its own loopback address (bench/serve.py's Visitor), with the CSRF
    token its pages gave it."""

    CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')

    def __init__(self, port: int, number: int) -> None:
        from bench.serve import Visitor

        self.visitor = Visitor(port, source=f"127.0.0.{number + 2}")
        self.csrf = ""

    def request(self, method: str, path: str, body: str = "") -> tuple[int, str]:
        headers = {}
        if method == "POST":
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": self.csrf,
                "HX-Request": "true",
                "Referer": "http://127.0.0.1/",
            }
        status, answer = self.visitor.request(method, path, body, headers)
        page = answer.decode("utf-8", "replace")
        found = self.CSRF.search(page)
        if found:
            self.csrf = found.group(1)
        return status, page

    def seen(self, pk: int) -> str:
        """The report token the text's page gives this client (shown the text)."""
        from tests.pages import SEEN_TOKEN

        _status, page = self.request("GET", f"/d/{pk}/")
        found = SEEN_TOKEN.search(page)
        return found.group(1) if found else ""

    def report(self, pk: int, seen: str) -> int:
        if not self.csrf:
            self.request("GET", "/about/")
        return self.request("POST", f"/d/{pk}/report/", f"reason=offensive&seen={seen}")[0]


def _report_flood_http(port: int, database: Path) -> bool:
    import sqlite3

    def hidden(pks: list[int]) -> int:
        with sqlite3.connect(database) as db:
            marks = ",".join("?" * len(pks))
            query = (
                "SELECT count(*) FROM generator_generateddescription "
                f"WHERE id IN ({marks}) AND status != 'approved'"
            )
            return int(db.execute(query, pks).fetchone()[0])

    with sqlite3.connect(database) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM generator_generateddescription")]
    unseen, shown = ids[:10], ids[10:50]
    attackers = [_Attacker(port, number) for number in range(100)]
    ok = True
    for count in (3, 100):
        answers = [attacker.report(pk, "") for attacker in attackers[:count] for pk in unseen]
        lost = hidden(unseen)
        passed = lost == 0 and set(answers) == {403}
        ok = ok and passed
        print(
            f"{'PASS' if passed else 'FAIL'} {count} loopback addresses x {len(unseen)} texts "
            f"they were never shown, over HTTP: {len(answers)} reports, answers "
            f"{sorted(set(answers))}, {lost} texts lost"
        )
    answers = []
    for index, pk in enumerate(shown):
        for step in range(3):  # three reporters a text, each shown it first
            attacker = attackers[(index + 33 * step) % len(attackers)]
            answers.append(attacker.report(pk, attacker.seen(pk)))
    lost = hidden(shown)
    cap = 20  # REPORT_HIDES_PER_HOUR's default
    passed = 0 < lost <= cap
    ok = ok and passed
    statuses = {code: answers.count(code) for code in sorted(set(answers))}
    print(
        f"{'PASS' if passed else 'FAIL'} 100 loopback addresses shown the texts, 3 reports on each "
        f"of {len(shown)} texts over HTTP: answers {statuses}; {lost} went down (cap {cap} an "
        "hour), the rest stay up for a moderator"
    )
    return ok


REFILL_SCRIPT = """
import django
django.setup()
from generator import pools
from generator.models import ModelRun
ModelRun.objects.update(is_active=False)
run = ModelRun.objects.create(base="flood", status="done", checkpoint_path="/nonexistent/flood")
ModelRun.objects.filter(pk=run.pk).update(is_active=True)
pool = next(pool for pool in pools.sync_pools() if pool.key == "all")
fresh = pools.fresh_count(pool)
planned = [result for result in pools.top_up(16) if result.pool == pool.key]
batches = len(planned[0].batch_ids) if planned else 0
print(fresh, pool.low_water, batches, round(batches * 16 * pools.expected_yield(pool)))
"""


def _refill_after_flood(workdir: Path, database: str) -> bool:
    """One top-up on the flooded database: the texts taken down do not count as fresh, so the
    "all" pool is planned back above its low-water mark (low water 250 here: the 200 texts)."""
    from bench.serve import server_env

    env = {**server_env(workdir, database), "POOL_LOW_WATER": "250", "POOL_HIGH_WATER": "300"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONPATH=f"{ROOT}:{ROOT / 'site'}")
    done = subprocess.run(
        [PYTHON, "-c", REFILL_SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"FAIL the top-up after the flood did not run: {done.stderr[-1500:]}")
        return False
    fresh, low, batches, coming = (int(word) for word in done.stdout.split()[-4:])
    passed = fresh + coming >= low
    print(
        f"{'PASS' if passed else 'FAIL'} after the flood, one top-up of the 'all' pool ({fresh} "
        f"fresh, low water {low}): {batches} batches of 16 queued, about {fresh + coming} fresh "
        "once they run"
    )
    return passed


if __name__ == "__main__":
    if "--report-flood-http" in sys.argv[1:]:
        sys.exit(report_flood_http())
    if "--report-flood" in sys.argv[1:]:
        sys.exit(report_flood())
    if "--card-sweep" in sys.argv[1:]:
        sys.exit(card_sweep())
    sys.exit(pitch_flood() if "--pitch-flood" in sys.argv[1:] else main())
