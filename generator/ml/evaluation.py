"""Realism of generated records against held-out real ones. Plain Python: no Django, no torch.

`evaluate` compares sampled records (as the sampler returns them) with real records that were
never trained on:

- discriminator AUC: TF-IDF word and character n-grams + logistic regression, cross-validated;
  0.5 means a classifier cannot tell generated from real, 1.0 means it always can;
- distinct-2: distinct word bigrams over all bigrams, for the generated and the real texts;
- length distance: the Kolmogorov-Smirnov statistic between the two word-count distributions;
- format-failure rate: samples with no end marker or a record that does not parse;
- real-title rate: parsed samples whose title is a training title (folded as the overfit check
  does);
- copy rate: parsed samples the overfit detector calls copies of the training data;
- invented-word and slip rates (generator.ml.reading), of the texts and of the real ones.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from generator.ml.format import FormatError, Record, Sample, parse_record
from generator.ml.overfit import TITLE, Detector, Thresholds
from generator.ml.reading import INVENTED_WORD, Facts, Lexicon, invented_words, problem, slips
from generator.ml.text import tokens

MIN_TEXTS_PER_CLASS = 10
FOLDS = 5


@dataclass(frozen=True)
class Realism:
    samples: int
    discriminator_auc: float | None  # None with fewer than MIN_TEXTS_PER_CLASS on either side
    distinct_2: float
    real_distinct_2: float
    length_distance: float
    format_failure_rate: float
    real_title_rate: float
    copy_rate: float
    # What a reader catches first (generator.ml.reading), of the parsed texts and of real ones.
    invented_word_rate: float | None = None
    real_invented_word_rate: float | None = None
    slip_rate: float | None = None
    real_slip_rate: float | None = None
    # A judge of another family than any critic that selects: sentence embeddings + logistic
    # regression (generator.ml.embeddings), cross-validated like the discriminator.
    embedding_auc: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Distinct word n-grams over all word n-grams (0 when there are none)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        words = tokens(text).words
        grams = [words[i : i + n] for i in range(len(words) - n + 1)]
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def length_distance(first: Sequence[str], second: Sequence[str]) -> float:
    """Kolmogorov-Smirnov statistic between the word counts of two sets of texts."""
    if not first or not second:
        return 1.0
    a = sorted(len(tokens(text).words) for text in first)
    b = sorted(len(tokens(text).words) for text in second)
    return max(
        abs(bisect.bisect_right(a, x) / len(a) - bisect.bisect_right(b, x) / len(b))
        for x in set(a) | set(b)
    )


def discriminator() -> Any:
    """An unfitted generated-vs-real text classifier: TF-IDF word and character n-grams, logistic
    regression. The evaluation's judge, and the reranker's (generator.ml.reranking).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
    )
    return make_pipeline(features, LogisticRegression(C=1.0, max_iter=2000))


def discriminator_auc(generated: Sequence[str], real: Sequence[str], seed: int = 0) -> float | None:
    """Cross-validated ROC AUC of a TF-IDF + logistic-regression generated-vs-real classifier."""
    return cross_validated_auc(discriminator(), [*generated, *real], len(generated), seed)


def cross_validated_auc(
    classifier: Any, inputs: Sequence[Any], generated: int, seed: int
) -> float | None:
    """ROC AUC of `classifier` telling the first `generated` inputs from the rest, each scored by
    a fit on the other folds; None with fewer than MIN_TEXTS_PER_CLASS on either side.
    """
    real = len(inputs) - generated
    if min(generated, real) < MIN_TEXTS_PER_CLASS:
        return None
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = [1] * generated + [0] * real
    folds = StratifiedKFold(
        n_splits=min(FOLDS, MIN_TEXTS_PER_CLASS), shuffle=True, random_state=seed
    )
    scores = cross_val_predict(classifier, inputs, labels, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(labels, scores))


def parsed(samples: Iterable[Sample]) -> tuple[list[Record], int]:
    """The records that parse, and how many samples failed the format."""
    records, failures = [], 0
    for sample in samples:
        if not sample.reached_end:
            failures += 1
            continue
        try:
            records.append(parse_record(sample.text))
        except FormatError:
            failures += 1
    return records, failures


def evaluate(
    samples: Sequence[Sample],
    real_descriptions: Sequence[str],
    training: Detector,
    thresholds: Thresholds,
    seed: int = 0,
    facts: Facts | None = None,
) -> Realism:
    """Realism of `samples` against held-out real descriptions (`training`: the training index)."""
    records, failures = parsed(samples)
    descriptions = [record.description for record in records]
    with_titles = replace(thresholds, check_titles=True)
    real_titles = sum(
        1 for record in records if training.check("", record.title, with_titles).reason == TITLE
    )
    copies = sum(1 for text in descriptions if training.check(text, "", thresholds).overfit)
    parsed_count = max(len(records), 1)
    # distinct-2 grows as texts get fewer: compare equal numbers of texts.
    real_sample = list(real_descriptions[: len(descriptions) or len(samples)])
    lexicon, facts = Lexicon.english(), facts or Facts()
    real_records = [Record("", (), "", text) for text in real_descriptions]
    return Realism(
        samples=len(samples),
        discriminator_auc=discriminator_auc(descriptions, real_descriptions, seed),
        distinct_2=distinct_n(descriptions),
        real_distinct_2=distinct_n(real_sample),
        length_distance=length_distance(descriptions, real_descriptions),
        format_failure_rate=failures / len(samples) if samples else 0.0,
        real_title_rate=real_titles / parsed_count,
        copy_rate=copies / parsed_count,
        invented_word_rate=_share(records, lambda r: problem(r, lexicon, facts) == INVENTED_WORD),
        real_invented_word_rate=_share(
            real_records, lambda r: bool(invented_words(r.description, lexicon))
        ),
        slip_rate=_share(records, lambda r: bool(slips(r, facts))),
        real_slip_rate=_share(real_records, lambda r: bool(slips(r, facts))),
    )


def _share(records: Sequence[Record], caught: Callable[[Record], bool]) -> float | None:
    return sum(map(caught, records)) / len(records) if records else None
