"""A critic that reads with the writer's own model: a linear probe on its hidden states.

The n-gram critic (generator.ml.reranking) sees words; this one sees what the fine-tuned model
makes of a whole text, title and kind included. At a run's evaluation it is fitted on texts the
run wrote against real training descriptions (never the held-out ones the evaluation and blind
readings compare with) and saved beside the checkpoint as JSON, so loading it runs no code.
Scoring a candidate costs one forward pass of the model the sampler already holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from generator.ml.checkpoints import load_json_once, save_json
from generator.ml.evaluation import MIN_TEXTS_PER_CLASS

PROBE_FILE = "reader_probe.json"
# Mean-pooled hidden states of these layers, concatenated: the last reads the surface, earlier
# ones what the text is about.
LAYERS = (-1, -4, -8)
MAX_TOKENS = 96
BATCH = 32
# Inverse L2 strength: a few hundred texts per class against ~1,700 features.
STRENGTH = 0.05


class ProbeError(ValueError):
    """Too few texts to fit a probe."""


def reading(kind: str, title: str, description: str) -> str:
    """A text as the probe reads it: what it is, its title, then its description."""
    what = "TV show" if kind == "tv" else "Film"
    return f"{what}: {title}\n{description}"


@torch.no_grad()
def hidden_features(
    model: Any, tokenizer: Any, texts: Sequence[str], layers: Sequence[int]
) -> np.ndarray:
    """Each text's hidden states, mean-pooled over its tokens, of each of `layers`."""
    device = next(model.parameters()).device
    rows = []
    for start in range(0, len(texts), BATCH):
        encoded = tokenizer(
            list(texts[start : start + BATCH]),
            return_tensors="pt",
            padding=True,
            padding_side="right",
            truncation=True,
            max_length=MAX_TOKENS,
        ).to(device)
        states = model(**encoded, output_hidden_states=True).hidden_states
        mask = encoded["attention_mask"].unsqueeze(-1).to(states[0].dtype)
        # A model shallower than a layer asked for reads it from its embeddings.
        chosen = [states[max(layer, -len(states))] for layer in layers]
        pooled = [(state * mask).sum(1) / mask.sum(1) for state in chosen]
        rows.append(torch.cat(pooled, dim=-1).float().cpu().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)


@dataclass(frozen=True)
class ReaderProbe:
    layers: tuple[int, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    @classmethod
    def fit(
        cls,
        model: Any,
        tokenizer: Any,
        generated: Sequence[str],
        real: Sequence[str],
        layers: Sequence[int] = LAYERS,
        strength: float = STRENGTH,
    ) -> ReaderProbe:
        """Generated against real texts (each as `reading` writes it), as many of each."""
        if min(len(generated), len(real)) < MIN_TEXTS_PER_CLASS:
            raise ProbeError(
                f"a reader probe needs {MIN_TEXTS_PER_CLASS} generated and real texts, "
                f"not {len(generated)} and {len(real)}"
            )
        features = hidden_features(model, tokenizer, [*generated, *real], layers)
        labels = np.r_[np.ones(len(generated)), np.zeros(len(real))]
        mean, scale = features.mean(0), features.std(0) + 1e-6
        classifier = LogisticRegression(C=strength, max_iter=5000, class_weight="balanced")
        classifier.fit((features - mean) / scale, labels)
        return cls(
            tuple(layers), mean, scale, classifier.coef_[0].copy(), float(classifier.intercept_[0])
        )

    def doubts(self, model: Any, tokenizer: Any, texts: Sequence[str]) -> list[float]:
        """How sure the probe is that each text is machine-written (0: reads as real)."""
        if not texts:
            return []
        features = hidden_features(model, tokenizer, texts, self.layers)
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return [1 / (1 + math.exp(-float(logit))) for logit in logits]

    def save(self, directory: Path) -> Path:
        path = directory / PROBE_FILE
        payload = {
            "layers": list(self.layers),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
        }
        return save_json(path, payload)

    @classmethod
    def load(cls, directory: Path) -> ReaderProbe | None:
        """The probe saved in a checkpoint directory, or None."""
        return load_json_once(directory / PROBE_FILE, _probe)


def _probe(payload: dict[str, Any]) -> ReaderProbe:
    vectors = {name: np.asarray(payload[name], dtype=np.float32) for name in ("mean", "scale")}
    return ReaderProbe(
        layers=tuple(int(layer) for layer in payload["layers"]),
        weights=np.asarray(payload["weights"], dtype=np.float32),
        bias=float(payload["bias"]),
        **vectors,
    )
