"""Numbers shown about a fine-tune, for the admin and the command alike. Plain Python: no torch."""

from __future__ import annotations

import math

# exp() of a diverged loss overflows; past this it is "huge" anyway.
_MAX_LOSS = 50.0


def perplexity(loss: float) -> float:
    return math.exp(min(loss, _MAX_LOSS))


def loss_with_perplexity(loss: float) -> str:
    """'2.6500 (perplexity 14.15)': how a loss is written wherever it is shown."""
    return f"{loss:.4f} (perplexity {perplexity(loss):.2f})"
