"""Serving throughput: `/` (the unseen walk) against a get(pk=random id) baseline in one gunicorn.

    .venv/bin/python bench/serve.py [--pool 100000] [--small-pool 1000] [--history 1000]
                                    [--duration 20] [--rounds 4] [--concurrency 8]
                                    [--database sqlite|postgres]

Builds two temporary databases (SQLite files under /tmp, or databases on the machine's
PostgreSQL at 127.0.0.1:5432, dropped afterwards): a small pool and a large one, bulk-inserted
invented descriptions, and starts a gunicorn on each (2 workers x 1 thread, like `dev.py run`)
with bench/serve_settings.py, so /bench/baseline/ renders the same page for get(pk=random id)
with no walk and no write. A loopback-only, time-bounded load generator (threads + http.client,
keep-alive, one cookie jar per simulated visitor) measures saturation throughput and latency of
`/` and the baseline on both pools, the four loads taking turns in short rounds so background
load on the machine hits them alike; then `/` on the large pool at half its saturation rate on
an open-loop schedule (latency counted from the scheduled send, so a stall is not hidden).
Visitors on the large pool first view --history pages each; those on the small pool start with
empty cookie jars every round.

Targets: `/` at least 90% of the baseline's throughput (a view writes nothing in the request:
web/served.py); p99 under 50 ms at half saturation;
throughput with the large pool and long histories within 1.5x of the small pool with fresh
visitors. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.services import ensure_machine_postgres, free_port  # noqa: E402

PYTHON = sys.executable
HOST = "127.0.0.1"  # loopback only: this never sends a request anywhere else
POSTGRES = "postgres://postgres@127.0.0.1:5432"  # the machine's own cluster (--database postgres)
GENRES = (
    "Dramas",
    "Comedies",
    "Thrillers",
    "Documentaries",
    "Horror Movies",
    "Romantic Movies",
    "International Movies",
    "TV Dramas",
    "TV Comedies",
    "TV Horror",
    "Crime TV Shows",
    "Kids' TV",
)
_WHO = ("A retired lighthouse keeper", "Two rival beekeepers", "A nervous robot", "Five cousins")
_WHAT = ("inherits a haunted bakery", "races across a frozen lake", "forms a jazz band on the moon")
_WHY = ("to pay off a debt to a talking goose.", "before the tide turns purple.", "by Tuesday.")


# ---------------------------------------------------------------------------------------------
# Database: migrate, then bulk-insert invented descriptions (run in a child with Django set up)


def server_env(workdir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(workdir),
        "STATIC_ROOT": str(workdir / "static"),
        "SECRET_KEY": "bench-serve-not-secret",
        "DEBUG": "0",
        "SITE_HTTPS": "0",
        # The site plus /bench/baseline/ (bench/serve_urls.py); production never routes it.
        "DJANGO_SETTINGS_MODULE": "bench.serve_settings",
        "ALLOWED_HOSTS": HOST,
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
    }


def prepare_workdir(workdir: Path) -> None:
    """Broker folders and collected static files, as a deployment has them."""
    for folder in ("broker/queue", "broker/processed", "static"):
        (workdir / folder).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "collectstatic", "--no-input", "-v", "0"],
        check=True,
        env=server_env(workdir, f"sqlite:///{workdir / 'unused.sqlite3'}"),
        cwd=ROOT,
    )


def new_database(workdir: Path, engine: str, name: str) -> str:
    """The URL of an empty database: a file in `workdir`, or one on the machine's PostgreSQL."""
    if engine == "sqlite":
        return f"sqlite:///{workdir / name}.sqlite3"
    import psycopg

    if not ensure_machine_postgres(print):
        raise SystemExit("PostgreSQL is not running on 127.0.0.1:5432")
    database = f"tmdne_bench_{name}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.execute(f'CREATE DATABASE "{database}"')
    return f"{POSTGRES}/{database}"


def drop_database(url: str) -> None:
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def build_database(workdir: Path, database_url: str, count: int) -> None:
    env = server_env(workdir, database_url)
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], check=True, env=env, cwd=ROOT)
    started = time.perf_counter()
    subprocess.run([PYTHON, __file__, "--fill", str(count)], check=True, env=env, cwd=ROOT)
    name = database_url.rsplit("/", 1)[1]
    print(f"  {count:,} descriptions in {name} ({time.perf_counter() - started:.0f} s)")


def fill(count: int) -> None:
    """Child process: insert `count` approved descriptions with genres, in large batches."""
    import random

    sys.path[:0] = [str(ROOT), str(ROOT / "site")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import transaction

    from generator.ml.text import text_hash
    from generator.models import GeneratedDescription, ModelRun, new_serve_key
    from titles.models import Genre, Kind

    rng = random.Random(7)
    genres = list(Genre.objects.get_or_create_many(set(GENRES)).values())
    run = ModelRun.objects.create(base="smollm2-135m-instruct", status=ModelRun.Status.DONE)
    through = GeneratedDescription.genres.through
    batch = 5000
    for first in range(0, count, batch):
        rows = []
        for number in range(first, min(first + batch, count)):
            text = (
                f"{rng.choice(_WHO)} {rng.choice(_WHAT)} {rng.choice(_WHY)} "
                f"(Invented benchmark story {number}.)"
            )
            rows.append(
                GeneratedDescription(
                    title=f"Invented Title {number}",
                    kind=rng.choice(Kind.values),
                    text=text,
                    text_hash=text_hash(text),
                    status=GeneratedDescription.Status.APPROVED,
                    model_run=run,
                    serve_key=new_serve_key(),
                )
            )
        with transaction.atomic():
            created = GeneratedDescription.objects.bulk_create(rows)
            through.objects.bulk_create(
                [
                    through(generateddescription_id=description.pk, genre_id=genre.pk)
                    for description in created
                    for genre in rng.sample(genres, rng.choice((1, 2)))
                ]
            )


# ---------------------------------------------------------------------------------------------
# Server


class Server:
    def __init__(
        self,
        workdir: Path,
        database_url: str,
        workers: int,
        threads: int,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port(HOST)
        command = [
            str(Path(PYTHON).parent / "gunicorn"),
            "--chdir",
            str(ROOT / "site"),
            "--pythonpath",
            str(ROOT),  # bench.serve_settings
            "config.wsgi",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ]
        env = {**server_env(workdir, database_url), **(settings or {})}
        self.process = subprocess.Popen(command, env=env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = Visitor(self.port).get("/bench/baseline/")
                if status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# ---------------------------------------------------------------------------------------------
# Load generator


class Visitor:
    """One simulated visitor: its own cookie jar and its own keep-alive connection, from
    `source` (a loopback address of its own) when given."""

    def __init__(self, port: int, source: str | None = None) -> None:
        self.port = port
        self.source = source
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def request(
        self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    HOST,
                    self.port,
                    timeout=30,
                    source_address=(self.source, 0) if self.source else None,
                )
            sent = {"Host": HOST, **(headers or {})}
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            try:
                self.connection.request(method, path, body=body or None, headers=sent)
                response = self.connection.getresponse()
                answer = response.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            for header in response.headers.get_all("Set-Cookie") or ():
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            if response.getheader("Connection", "").lower() == "close":
                self.connection.close()
                self.connection = None
            return response.status, answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


@dataclass
class Result:
    label: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"  {self.label:<44} {self.rps:8.1f} req/s   p50 {self.percentile(0.50):6.1f} ms"
            f"   p99 {self.percentile(0.99):6.1f} ms   errors {self.errors}"
        )


def run_load(
    label: str,
    visitors: list[Visitor],
    path: str,
    concurrency: int,
    seconds: float,
    rate: float | None = None,
    on_card: Callable[[Visitor, bytes], None] | None = None,
) -> Result:
    """Closed loop (rate None): each thread sends as fast as answers come. Open loop: `rate`
    requests/s in all, on a fixed schedule, latency counted from each scheduled send.
    `on_card` sees every good answer (a visitor belongs to one thread)."""
    result = Result(label, seconds)
    lock = threading.Lock()
    start = time.perf_counter() + 0.05
    stop_at = start + seconds

    def worker(index: int) -> None:
        mine = visitors[index::concurrency]
        latencies: list[float] = []
        errors = 0
        sent = 0
        interval = concurrency / rate if rate else 0.0
        offset = index * interval / concurrency if rate else 0.0
        while True:
            scheduled = start + offset + sent * interval if rate else time.perf_counter()
            if scheduled >= stop_at:
                break
            if rate:
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            visitor = mine[sent % len(mine)]
            sent += 1
            try:
                status, body = visitor.get(path)
                ok = status == 200 and b"data-description-id" in body
            except (OSError, http.client.HTTPException):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - scheduled)
                if on_card is not None:
                    on_card(visitor, body)
            else:
                errors += 1
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def prime(visitors: list[Visitor], views: int, concurrency: int) -> None:
    """Give every visitor a history of `views` pages (their cursors move; their state does not
    grow)."""

    def worker(mine: list[Visitor]) -> None:
        for visitor in mine:
            for _ in range(views):
                visitor.get("/")

    started = time.perf_counter()
    threads = [
        threading.Thread(target=worker, args=(visitors[i::concurrency],))
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sizes = [len(visitor.cookies.get("tmdne_walk", "")) for visitor in visitors]
    print(
        f"  primed {len(visitors)} visitors x {views} views in "
        f"{time.perf_counter() - started:.0f} s; walk cookie {max(sizes)} bytes"
    )


# ---------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Result]:
    """Both pools' servers run side by side and the four loads take turns in short rounds, so a
    change in background load on the machine hits every figure alike."""
    small_db = new_database(workdir, args.database, "small")
    large_db = new_database(workdir, args.database, "large")
    print(f"building pools of {args.small_pool:,} and {args.pool:,} on {args.database}")
    build_database(workdir, small_db, args.small_pool)
    build_database(workdir, large_db, args.pool)
    small = Server(workdir, small_db, args.workers, args.threads)
    large = Server(workdir, large_db, args.workers, args.threads)
    try:
        historied = [Visitor(large.port) for _ in range(args.visitors)]
        prime(historied, args.history, args.concurrency)
        for server in (small, large):
            warm = [Visitor(server.port) for _ in range(args.concurrency)]
            run_load("warm-up", warm, "/bench/baseline/", args.concurrency, 2)
            run_load("warm-up", warm, "/", args.concurrency, 2)
        labels = {
            "small walk": f"/, {args.small_pool:,} pool, fresh visitors",
            "small baseline": f"baseline, {args.small_pool:,} pool",
            "walk": f"/, {args.pool:,} pool, {args.history:,}-view histories",
            "baseline": f"baseline, {args.pool:,} pool",
        }
        results = {key: Result(label, 0.0) for key, label in labels.items()}
        turn = args.duration / args.rounds
        for _ in range(args.rounds):
            fresh = [Visitor(small.port) for _ in range(args.visitors)]
            loads = {
                "small walk": (fresh, "/"),
                "small baseline": (fresh, "/bench/baseline/"),
                "walk": (historied, "/"),
                "baseline": (historied, "/bench/baseline/"),
            }
            for key, (visitors, path) in loads.items():
                _add(results[key], run_load(key, visitors, path, args.concurrency, turn))
        half = results["walk"].rps / 2
        results["half"] = run_load(
            f"/, {args.pool:,} pool, open loop at {half:.0f} req/s (half)",
            historied,
            "/",
            args.concurrency,
            args.duration,
            rate=half,
        )
        for result in results.values():
            print(result.line())
        return results
    finally:
        small.stop()
        large.stop()
        drop_database(small_db)
        drop_database(large_db)


def _add(total: Result, part: Result) -> None:
    total.seconds += part.seconds
    total.latencies.extend(part.latencies)
    total.errors += part.errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--small-pool", type=int, default=1_000)
    parser.add_argument("--history", type=int, default=1_000, help="views per visitor, large pool")
    parser.add_argument("--visitors", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per figure")
    parser.add_argument("--rounds", type=int, default=4, help="turns the loads take")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="per worker (SQLite: 1 writer)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--fill", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill is not None:
        fill(args.fill)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="tmdne-bench-serve-", dir="/tmp"))
    try:
        prepare_workdir(workdir)
        results = measure(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    walk, baseline, small = results["walk"], results["baseline"], results["small walk"]
    vs_baseline = walk.rps / baseline.rps
    vs_small = small.rps / walk.rps
    p99 = results["half"].percentile(0.99)
    print("\nsummary")
    print(f"  / vs baseline ({args.pool:,} pool):     {vs_baseline:5.2f}x  (target >= 0.90)")
    print(
        f"  small+fresh / large+histories:    {vs_small:5.2f}x  (target <= 1.50; "
        f"{small.rps:.0f} vs {walk.rps:.0f} req/s)"
    )
    print(f"  p99 at half saturation:           {p99:5.1f} ms (target < 50)")
    met = vs_baseline >= 0.9 and vs_small <= 1.5 and p99 < 50
    print("  all targets met" if met else "  a target was missed")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
