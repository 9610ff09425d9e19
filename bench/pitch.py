"""Pitch latency, queueing to done, on an idle gpu worker and on one busy refilling the pools.

    .venv/bin/python bench/pitch.py [--pitches 8] [--idle-pitches 5] [--checkpoint DIR]

A real Celery worker process (the Procfile's `worker` command: `-Q pitch,default,gpu`,
concurrency 1, prefetch 1) on the filesystem broker and a private SQLite database. Each pitch is
created and queued the way the web process does it (a Pitch row, then `generator.pitch` by name);
the latency is from just before queueing to the moment the row says done or failed, polled every
50 ms. Baseline: the same pitches with nothing else queued. Loaded: batches of 16 queued without
pause, so the worker is always sampling one when a pitch arrives (a new pitch is sent at a random
moment 1-4 s after the previous one finished).

Without --checkpoint the model is the default base (SmolLM2-135M-Instruct, converted from its
GGUF and cached under .cache/bases or data/models/bases) with the record markers added: its
weights are real, but it never writes the end marker, so every row runs to max_new_tokens (96)
and every pitch ends "failed" (nothing passes the filters). That is the slowest a pitch can be:
a fine-tuned model stops each row at its end marker.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "site")]


def _checkpoint(workdir: Path) -> Path:
    """The default base with the record markers registered, saved like a fine-tuned checkpoint."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generator.ml.bases import DEFAULT_BASE, resolve_base
    from generator.ml.format import SPECIAL_TOKENS

    cached = sorted((ROOT / ".cache" / "bases").glob("smollm2-*"))
    bases_dir = cached[-1] if cached else ROOT / "data" / "models" / "bases"
    base = resolve_base(DEFAULT_BASE, bases_dir)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    destination = workdir / "base-with-markers"
    model.save_pretrained(destination)
    tokenizer.save_pretrained(destination)
    return destination


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _one_pitch(number: int) -> tuple[float, str]:
    from celery import current_app
    from django.db import close_old_connections

    from generator import queueing
    from generator.models import Pitch
    from titles.models import Genre

    genre = Genre.objects.get(name="Dramas")
    # Seeded by its number: two runs write the same texts unless sampling itself changed.
    pitch = Pitch.objects.create(
        title=f"The Benchmark Umbrella {number}",
        kind="movie",
        genre=genre,
        author_key="bench",
        seed=number + 1,
    )
    start = time.perf_counter()
    current_app.signature(queueing.PITCH, args=(pitch.pk,)).delay()
    while True:
        close_old_connections()
        status = Pitch.objects.filter(pk=pitch.pk).values_list("status", flat=True).get()
        if status in (Pitch.Status.DONE, Pitch.Status.FAILED):
            return time.perf_counter() - start, status
        time.sleep(0.05)


def _queue_batches(count: int) -> None:
    from celery import current_app

    from generator import queueing
    from generator.models import ModelRun
    from generator.pools import create_batches

    run = ModelRun.objects.active()
    assert run is not None
    for batch_id in create_batches(run, None, count, 16):
        current_app.signature(queueing.GENERATE_BATCH, args=(batch_id,)).delay()


def _batches_running() -> bool:
    from generator.models import GenerationBatch

    return GenerationBatch.objects.filter(status=GenerationBatch.Status.RUNNING).exists()


def _measure(label: str, count: int, rng: random.Random) -> list[float]:
    latencies = []
    for number in range(count):
        latency, status = _one_pitch(number + (1000 if label == "loaded" else 0))
        latencies.append(latency)
        print(f"  {label} pitch {number + 1}: {latency:5.1f} s ({status})", flush=True)
        time.sleep(rng.uniform(1.0, 4.0))
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pitches", type=int, default=8, help="pitches on the busy worker")
    parser.add_argument("--idle-pitches", type=int, default=5, help="pitches on the idle worker")
    parser.add_argument("--checkpoint", type=Path, help="a fine-tuned run's checkpoint directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tmdne-bench-pitch-", dir="/tmp"))
    env = {
        **os.environ,
        "DATA_DIR": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    worker: subprocess.Popen[bytes] | None = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from generator.models import ModelRun
        from titles.models import Genre

        call_command("migrate", verbosity=0)
        checkpoint = args.checkpoint or _checkpoint(workdir)
        ModelRun.objects.create(
            base=str(checkpoint), status=ModelRun.Status.DONE, checkpoint_path=str(checkpoint),
            is_active=True,
        )  # fmt: skip
        Genre.objects.create(name="Dramas", slug="dramas")
        command = [str(ROOT / ".venv" / "bin" / "celery"), "-A", "celery_app", "worker", "-Q",
                   "pitch,default,gpu", "--concurrency", "1", "--prefetch-multiplier", "1",
                   "-n", "bench@%h", "-l", "WARNING"]  # fmt: skip
        log = (workdir / "worker.log").open("wb")
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        print(f"checkpoint: {checkpoint}", flush=True)
        rng = random.Random(7)
        print("warming up (the worker loads the model on its first pitch)", flush=True)
        _one_pitch(-1)

        print("idle worker:", flush=True)
        idle = _measure("idle", args.idle_pitches, rng)

        _queue_batches(args.pitches * 3 + 10)
        while not _batches_running():
            time.sleep(0.2)
        print("worker refilling pools (batches of 16 queued back to back):", flush=True)
        loaded = _measure("loaded", args.pitches, rng)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    idle_p50, loaded_p50 = statistics.median(idle), statistics.median(loaded)
    print("\nsummary (seconds from queueing to done)")
    idle_p95 = _percentile(idle, 0.95)
    print(f"  idle worker:     p50 {idle_p50:5.1f}  p95 {idle_p95:5.1f}  n={len(idle)}")
    print(
        f"  while refilling: p50 {loaded_p50:5.1f}  p95 {_percentile(loaded, 0.95):5.1f}  "
        f"n={len(loaded)}  (target p95 < 15)"
    )
    print(f"  ratio (refilling / idle p50): {loaded_p50 / idle_p50:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
