"""Benchmark share cards: render time and PNG size, against serving a card already on disk.

    .venv/bin/python bench/share_card.py [--cards 60] [--seed 3]

Draws --cards cards of invented descriptions (short and long titles, every poster colour, some
non-Latin text) with web.share.render_card, and prints render ms p50/p95 and PNG bytes
p50/p95/max. The baseline, measured in the same run, is what every later request costs: the
cached file found and read (web.share.cached_card on a hit). Cards go to a throwaway directory.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "site"), str(ROOT)]

_WORDS = [
    *("lighthouse", "keeper", "haunted", "bakery", "frozen", "lake", "jazz", "band", "moon"),
    *("goose", "tide", "cousins", "robot", "detective", "pickle", "orbit", "crumbs", "winter"),
    *("ledger", "ночь", "токио", "東京", "storm", "velvet", "circus"),
]


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="share-card-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["SHARE_CARD_DIR"] = directory
    os.environ.setdefault("DATA_DIR", directory)
    import django

    django.setup()
    from generator.cards import CardFacts, draw, render_card
    from generator.posters import POSTER_COLOURS

    chance = random.Random(options.seed)
    facts = [
        CardFacts(
            pk=number,
            title=" ".join(chance.choices(_WORDS, k=chance.randint(1, 9))).title(),
            kind=chance.choice(["movie", "tv"]),
            text=" ".join(chance.choices(_WORDS, k=chance.randint(15, 60))).capitalize() + ".",
            genres=tuple(chance.sample(["Dramas", "Comedies", "TV Horror"], chance.randint(0, 2))),
            colour=number % POSTER_COLOURS,
        )
        for number in range(options.cards)
    ]
    render_card(facts[0])  # loads the fonts once, as a warm worker has
    render_ms: list[float] = []
    sizes: list[int] = []
    for card in facts:
        started = time.perf_counter()
        sizes.append(len(render_card(card)))
        render_ms.append((time.perf_counter() - started) * 1000)
    for card in facts:
        draw(card)  # what the first request for each card leaves on disk
    cached_ms: list[float] = []
    for card in facts:
        started = time.perf_counter()
        draw(card).read_bytes()
        cached_ms.append((time.perf_counter() - started) * 1000)

    print(f"cards: {len(facts)} (1200x630 PNG), files in {directory}")
    print(
        f"render:        p50 {_percentile(render_ms, 0.5):7.2f} ms   "
        f"p95 {_percentile(render_ms, 0.95):7.2f} ms"
    )
    print(
        f"cached (base): p50 {_percentile(cached_ms, 0.5):7.2f} ms   "
        f"p95 {_percentile(cached_ms, 0.95):7.2f} ms"
    )
    print(
        f"png bytes:     p50 {_percentile(sizes, 0.5):7.0f}      "
        f"p95 {_percentile(sizes, 0.95):7.0f}      max {max(sizes)}   "
        f"mean {statistics.fmean(sizes):.0f}"
    )
    ratio = statistics.median(render_ms) / statistics.median(cached_ms)
    print(f"render / cached p50: {ratio:.0f}x")


if __name__ == "__main__":
    main()
