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
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serve import (  # noqa: E402
    Result,
    Server,
    Visitor,
    build_database,
    new_database,
    prepare_workdir,
    run_load,
)

CARD_ID = re.compile(rb'data-description-id="(\d+)"')


@dataclass
class Run:
    rate: float
    result: Result
    repeats: int

    def p99(self) -> float:
        return self.result.percentile(0.99) if self.result.latencies else 0.0

    def held(self, p99_ms: float) -> bool:
        return self.result.errors == 0 and self.repeats == 0 and self.p99() < p99_ms

    def line(self) -> str:
        result = self.result
        p50 = result.percentile(0.50) if result.latencies else 0.0
        return (
            f"  {self.rate:6.0f} req/s offered, {result.rps:6.1f} served: p50 {p50:6.1f} ms"
            f"  p99 {self.p99():6.1f} ms  errors {result.errors}  repeats {self.repeats}"
        )


def drive(port: int, visitors: int, rate: float, seconds: float, threads: int) -> Run:
    """Open loop at `rate` requests/s over the visitors, counting cards a visitor saw before."""
    people = [Visitor(port) for _ in range(visitors)]
    seen: dict[int, set[bytes]] = {id(person): set() for person in people}
    repeats = [0]
    lock = threading.Lock()

    def on_card(visitor: Visitor, body: bytes) -> None:
        match = CARD_ID.search(body)
        card = match.group(1) if match else b""
        if card in seen[id(visitor)]:
            with lock:
                repeats[0] += 1
        seen[id(visitor)].add(card)

    result = run_load(f"{rate:.0f} req/s", people, "/", threads, seconds, rate, on_card)
    for person in people:
        person.close()
    return Run(rate, result, repeats[0])


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
        database = new_database(workdir, "sqlite", "load")
        build_database(workdir, database, args.pool)
        server = Server(workdir, database, workers=args.workers, threads=1)
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
        f"{args.visitors} visitors; {final.result.errors} errors, {final.repeats} repeats, "
        f"p99 {final.p99():.1f} ms (limit {args.p99_ms:.0f} ms)"
    )
    return 0 if final.held(args.p99_ms) else 1


if __name__ == "__main__":
    sys.exit(main())
