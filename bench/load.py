"""Load: gunicorn on loopback at a fixed request rate, many visitors, zero errors and repeats.

    .venv/bin/python bench/load.py [--pool 20000] [--visitors 200] [--rates 40,60,...,160]
                                   [--step-seconds 15] [--seconds 60]

Builds a temporary SQLite database of invented descriptions (via bench/serve.py), starts gunicorn
like `dev.py run` does, and sends GET / on an open-loop schedule (latency counted from each
scheduled send, so stalls are not hidden), spread over --visitors visitors, each with its own
cookie jar. Every answer must be a 200 with a card, and no visitor may see a description twice.
It steps through --rates for --step-seconds each to find the highest rate held (zero errors,
zero repeats, p99 under --p99-ms), then holds that rate for --seconds and reports it.
"""

from __future__ import annotations

import argparse
import http.client
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import Server, Visitor, build_database, prepare_workdir  # noqa: E402

CARD_ID = re.compile(rb'data-description-id="(\d+)"')


@dataclass
class Run:
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    repeats: int = 0

    def p(self, share: float) -> float:
        ordered = sorted(self.latencies) or [0.0]
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    def held(self, p99_ms: float) -> bool:
        return self.errors == 0 and self.repeats == 0 and self.p(0.99) < p99_ms

    def line(self) -> str:
        achieved = len(self.latencies) / self.seconds
        return (
            f"  {self.rate:6.0f} req/s offered, {achieved:6.1f} served: p50 {self.p(0.5):6.1f} ms"
            f"  p99 {self.p(0.99):6.1f} ms  errors {self.errors}  repeats {self.repeats}"
        )


def drive(port: int, visitors: int, rate: float, seconds: float, threads: int) -> Run:
    """Open loop: `rate` requests/s in all on a fixed schedule, round-robin over the visitors."""
    run = Run(rate, seconds)
    lock = threading.Lock()
    people = [Visitor(port) for _ in range(visitors)]
    seen: list[set[bytes]] = [set() for _ in people]
    start = time.perf_counter() + 0.05
    interval = threads / rate

    def worker(index: int) -> None:
        latencies, errors, repeats, sent = [], 0, 0, 0
        mine = list(range(index, visitors, threads))
        while True:
            scheduled = start + (index / threads + sent) * interval
            if scheduled >= start + seconds:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            who = mine[sent % len(mine)]
            sent += 1
            try:
                status, body = people[who].get("/")
            except (OSError, http.client.HTTPException):
                errors += 1
                continue
            match = CARD_ID.search(body)
            if status != 200 or match is None:
                errors += 1
                continue
            latencies.append(time.perf_counter() - scheduled)
            if match.group(1) in seen[who]:
                repeats += 1
            seen[who].add(match.group(1))
        with lock:
            run.latencies.extend(latencies)
            run.errors += errors
            run.repeats += repeats

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    for person in people:
        person.close()
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=20000)
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--rates", default="40,60,80,100,120,140,160")
    parser.add_argument("--step-seconds", type=float, default=15)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--p99-ms", type=float, default=100)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    if args.pool < args.seconds * max(rates) / args.visitors * 2:
        parser.error("--pool is too small: visitors would run out of unseen descriptions")

    with tempfile.TemporaryDirectory(prefix="tmdne-load-") as folder:
        workdir = Path(folder)
        prepare_workdir(workdir)
        build_database(workdir, workdir / "load.sqlite3", args.pool)
        server = Server(workdir, workdir / "load.sqlite3", workers=args.workers, threads=1)
        try:
            print(f"stepping through {args.rates} req/s, {args.step_seconds:.0f} s each:")
            best = None
            for rate in rates:
                step = drive(server.port, args.visitors, rate, args.step_seconds, args.threads)
                print(step.line())
                if not step.held(args.p99_ms):
                    break
                best = rate
            if best is None:
                print("no rate was held")
                return 1
            print(f"holding {best:.0f} req/s for {args.seconds:.0f} s, {args.visitors} visitors:")
            final = drive(server.port, args.visitors, best, args.seconds, args.threads)
            print(final.line())
        finally:
            server.stop()
    verdict = "held" if final.held(args.p99_ms) else "NOT held"
    print(
        f"highest rate {verdict}: {best:.0f} req/s for {args.seconds:.0f} s with "
        f"{args.visitors} visitors; {final.errors} errors, {final.repeats} repeats, "
        f"p99 {final.p(0.99):.1f} ms (limit {args.p99_ms:.0f} ms)"
    )
    return 0 if final.held(args.p99_ms) else 1


if __name__ == "__main__":
    sys.exit(main())
