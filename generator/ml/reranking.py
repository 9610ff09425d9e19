"""Reranking by realism: keep the share of a batch a generated-vs-real classifier finds most real.

Plain Python, no Django, no torch. After each run's evaluation a `RealismScorer` is fitted on
texts the run wrote (a sample the evaluation does not score) against real training descriptions
(never the held-out ones the evaluation compares with), and saved beside the checkpoint. Batches
then keep their `keep_share` most real-looking texts. On SmolLM2-135M it drops the generic
"A young man must..." texts the model overproduces and keeps the specific ones. It is saved as
JSON (each vectorizer's vocabulary and weights, the regression's coefficients): loading a file
from the models volume runs no code, as unpickling would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from generator.ml.checkpoints import load_json_once, save_json
from generator.ml.evaluation import MIN_TEXTS_PER_CLASS, discriminator

SCORER_FILE = "realism_scorer.json"
# A text a reader judged counts as this many texts the classifier only knows the source of.
FEEDBACK_WEIGHT = 3.0
Item = TypeVar("Item")


class RerankError(ValueError):
    """Too few texts to fit a scorer, or a keep share outside (0, 1]."""


@dataclass(frozen=True)
class RealismScorer:
    classifier: Any  # a fitted generator.ml.evaluation.discriminator()

    @classmethod
    def fit(
        cls,
        generated: Sequence[str],
        real: Sequence[str],
        doubted: Sequence[str] = (),
        believed: Sequence[str] = (),
    ) -> RealismScorer:
        """Generated texts and those readers doubted (moderators' rejections, reports, down-votes)
        against real ones and generated texts readers believed; each reader's verdict weighs
        FEEDBACK_WEIGHT texts."""
        if min(len(generated) + len(doubted), len(real)) < MIN_TEXTS_PER_CLASS:
            raise RerankError(
                f"a scorer needs {MIN_TEXTS_PER_CLASS} generated and real texts, "
                f"not {len(generated) + len(doubted)} and {len(real)}"
            )
        texts = [*generated, *doubted, *real, *believed]
        labels = [1] * (len(generated) + len(doubted)) + [0] * (len(real) + len(believed))
        weights = (
            [1.0] * len(generated)
            + [FEEDBACK_WEIGHT] * len(doubted)
            + [1.0] * len(real)
            + [FEEDBACK_WEIGHT] * len(believed)
        )
        classifier = discriminator()
        classifier.fit(texts, labels, logisticregression__sample_weight=weights)
        return cls(classifier)

    def generated_likelihood(self, texts: Sequence[str]) -> list[float]:
        """How sure the classifier is that each text is generated (0: reads as real)."""
        if not texts:
            return []
        return [float(p) for p in self.classifier.predict_proba(list(texts))[:, 1]]

    def save(self, directory: Path) -> Path:
        union, regression = self.classifier.steps[0][1], self.classifier.steps[-1][1]
        payload = {
            "vectorizers": [
                {
                    "analyzer": vectorizer.analyzer,
                    "ngram_range": list(vectorizer.ngram_range),
                    "sublinear_tf": vectorizer.sublinear_tf,
                    "vocabulary": {
                        term: int(column) for term, column in vectorizer.vocabulary_.items()
                    },
                    "idf": vectorizer.idf_.tolist(),
                }
                for _name, vectorizer in union.transformer_list
            ],
            "coefficients": regression.coef_[0].tolist(),
            "intercept": float(regression.intercept_[0]),
        }
        return save_json(directory / SCORER_FILE, payload)

    @classmethod
    def load(cls, directory: Path) -> RealismScorer | None:
        """The scorer saved in a checkpoint directory, or None where there is none."""
        return load_json_once(directory / SCORER_FILE, _scorer)


def _scorer(payload: dict[str, Any]) -> RealismScorer:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    vectorizers = []
    for saved in payload["vectorizers"]:
        vectorizer = TfidfVectorizer(
            analyzer=saved["analyzer"],
            ngram_range=tuple(saved["ngram_range"]),
            sublinear_tf=saved["sublinear_tf"],
            vocabulary=saved["vocabulary"],
        )
        vectorizer._validate_vocabulary()  # what fit() does first; then the fitted weights
        vectorizer.idf_ = np.asarray(saved["idf"])
        vectorizers.append(vectorizer)
    regression = LogisticRegression()
    regression.coef_ = np.asarray([payload["coefficients"]])
    regression.intercept_ = np.asarray([payload["intercept"]])
    regression.classes_ = np.asarray([0, 1])
    return RealismScorer(make_pipeline(make_union(*vectorizers), regression))


def least_doubted(items: Sequence[Item], doubts: Sequence[float], keep_share: float) -> list[Item]:
    """The `keep_share` of `items` a critic doubts least (at least one), in their order; ties go
    to the earlier item."""
    if not 0 < keep_share <= 1:
        raise RerankError(f"keep share must be above 0 and at most 1, not {keep_share}")
    if keep_share == 1 or not items:
        return list(items)
    keep = max(1, round(len(items) * keep_share))
    order = sorted(range(len(items)), key=lambda index: (doubts[index], index))
    chosen = set(order[:keep])
    return [item for index, item in enumerate(items) if index in chosen]
