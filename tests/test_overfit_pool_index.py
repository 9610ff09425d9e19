"""The pool of generated texts is indexed in the database (TextShingle), not in worker memory."""

import subprocess
import sys
from typing import Any

import pytest

from generator import overfit_check
from generator.ml.overfit import MAX_POSTINGS, Detector, Document
from generator.models import GeneratedDescription, TextShingle
from generator.signatures import normal_hash, shingles, stable_hash
from tests.corpus import ORIGINALS, TRAINING, text_of
from tests.factories import GeneratedDescriptionFactory

pytestmark = pytest.mark.django_db
Status = GeneratedDescription.Status


def _stored_shingles(description: GeneratedDescription) -> set[int]:
    return set(
        TextShingle.objects.filter(description=description).values_list("shingle", flat=True)
    )


def _store(texts: list[str]) -> list[GeneratedDescription]:
    rows = [
        GeneratedDescriptionFactory.build(text=text, title=f"Invented {n}")
        for n, text in enumerate(texts)
    ]
    return GeneratedDescription.objects.store(rows)


def test_signatures_are_stable_across_processes_and_fit_63_bits() -> None:
    code = (
        "from generator.signatures import stable_hash; print(stable_hash('a\\x1fradio\\x1fhost'))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": "."},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }

    assert runs == {str(stable_hash("a\x1fradio\x1fhost"))}
    hashes = shingles(text_of("f21"))
    assert len(hashes) == len(text_of("f21").split()) - 2
    assert all(0 <= value < 2**63 for value in hashes)


def test_texts_stored_through_the_app_carry_their_signatures() -> None:
    saved = GeneratedDescriptionFactory.create(text=ORIGINALS[0])
    (stored,) = _store([ORIGINALS[1]])

    assert _stored_shingles(saved) == shingles(ORIGINALS[0]) != set()
    assert _stored_shingles(stored) == shingles(ORIGINALS[1]) != set()
    stored.refresh_from_db()
    assert stored.normal_hash == normal_hash(ORIGINALS[1].upper()) is not None


def test_signatures_are_removed_with_their_text() -> None:
    description = GeneratedDescriptionFactory.create(text=ORIGINALS[2])
    assert TextShingle.objects.exists()

    description.delete()

    assert not TextShingle.objects.exists()


def test_a_text_stored_twice_keeps_one_set_of_signatures() -> None:
    (first,) = _store([ORIGINALS[3]])
    again = GeneratedDescriptionFactory.build(text=ORIGINALS[3])

    GeneratedDescription.objects.store([again], ignore_conflicts=True)

    assert GeneratedDescription.objects.count() == 1
    assert TextShingle.objects.count() == len(shingles(ORIGINALS[3])) > 0


def test_an_exact_copy_too_short_for_trigrams_is_found() -> None:
    short = GeneratedDescriptionFactory.create(text="Ghost ferry.")

    fields = overfit_check.stored_fields("GHOST   FERRY!")

    assert shingles("Ghost ferry.") == set()
    assert fields["status"] == Status.OVERFIT
    assert fields["overfit_reason"] == GeneratedDescription.OverfitReason.DUPLICATE
    assert fields["nearest_generated_id"] == short.pk


def test_stock_phrases_shared_by_too_many_texts_find_no_candidates() -> None:
    # Each text: the stock opening, then words of its own (one token per text, never shared).
    _store(
        [f"In this documentary, q{n}x q{n}y q{n}z recount everything." for n in range(MAX_POSTINGS)]
    )
    probe = "In this documentary, seven lighthouse keepers describe the storms."
    assert overfit_check.pool_candidates(probe) != []  # each phrase trigram: MAX_POSTINGS texts

    _store(["In this documentary, one more crew of divers recount everything."])

    assert overfit_check.pool_candidates(probe) == []


def test_only_the_newest_texts_keep_signatures(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OVERFIT_POOL_INDEX_LIMIT = 2
    oldest = GeneratedDescriptionFactory.create(text=ORIGINALS[4])
    with django_capture_on_commit_callbacks(execute=True):
        newer = _store([ORIGINALS[5], ORIGINALS[6]])

    indexed = set(TextShingle.objects.values_list("description_id", flat=True))
    assert indexed == {description.pk for description in newer}
    # An edited copy of the oldest text is no longer a candidate; an exact copy still is.
    assert overfit_check.pool_candidates(ORIGINALS[4].replace("Marco", "Luis")) == []
    assert overfit_check.pool_candidates(ORIGINALS[4]) == [oldest.pk]


def test_prune_keeps_exactly_the_limit() -> None:
    descriptions = [GeneratedDescriptionFactory.create(text=ORIGINALS[n]) for n in range(5)]

    deleted = TextShingle.objects.prune(keep=3)

    indexed = set(TextShingle.objects.values_list("description_id", flat=True))
    assert indexed == {description.pk for description in descriptions[2:]}
    assert deleted == len(shingles(ORIGINALS[0])) + len(shingles(ORIGINALS[1]))
    assert TextShingle.objects.prune(keep=3) == 0


VARIANTS = [
    *ORIGINALS,
    text_of("f8").replace("Ottilie Brandt", "Margit Svensson"),
    " ".join(text_of("f11").split()[:12]),
    " ".join(text_of("f5").split()[:12] + text_of("f24").split()[10:]),
    text_of("f21").upper(),
    "In this documentary, a young woman must find a way home.",
]


def test_sql_candidates_give_the_verdicts_of_the_full_in_memory_index() -> None:
    stored = _store([document.text for document in TRAINING] + ORIGINALS[:7])
    full = Detector(Document(str(d.pk), d.title, d.text) for d in stored)
    limits = overfit_check._without_titles(overfit_check.thresholds())

    for text in VARIANTS:
        expected = full.check(text, "", limits)
        found = overfit_check.pool_check(text, limits).verdict
        assert (found.overfit, found.score, found.reason, found.span) == (
            expected.overfit,
            expected.score,
            expected.reason,
            expected.span,
        ), text
        assert set(found.sources) == set(expected.sources), text
        # Two sources covering a splice equally are ranked arbitrarily, by either index.
        if expected.reason != "spliced":
            assert found.nearest == expected.nearest, text
        else:
            assert found.nearest is not None and found.nearest.key in expected.sources, text
    assert sum(full.check(text, "", limits).overfit for text in VARIANTS) >= 8


def test_a_check_costs_a_few_queries_whatever_the_pool_size(
    django_assert_max_num_queries: Any,
) -> None:
    _store([document.text for document in TRAINING])

    with django_assert_max_num_queries(4):
        check = overfit_check.pool_check(text_of("f9"), overfit_check.thresholds())

    assert check.overfit and check.generated_id is not None
