"""Which training records a run holds out for evaluation. Plain Python: no Django, no torch.

The rule: shuffle the positions 0..n-1 of the run's records with `random.Random(seed)`, and hold out
the first `min(max_eval, n - 1, max(1, round(n * eval_fraction)))` of them. It depends only on
the record count and the run's settings, so a resumed run, the held-out loss and the realism
evaluation (generator/run_evaluation.py) all see the same split.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class SplitError(ValueError):
    """Too few records for a held-out split."""


def held_out_positions(count: int, eval_fraction: float, seed: int, max_eval: int) -> list[int]:
    """Positions (ascending) of the held-out records among `count` records."""
    if count < 2:
        raise SplitError(f"need at least 2 training records for a held-out split, got {count}")
    order = list(range(count))
    random.Random(seed).shuffle(order)
    eval_count = min(max_eval, count - 1, max(1, round(count * eval_fraction)))
    return sorted(order[:eval_count])


def split_records(
    records: Sequence[T], eval_fraction: float, seed: int, max_eval: int
) -> tuple[list[T], list[T]]:
    """(train, held-out eval), each in the records' order."""
    held = set(held_out_positions(len(records), eval_fraction, seed, max_eval))
    train = [record for index, record in enumerate(records) if index not in held]
    return train, [records[index] for index in sorted(held)]
