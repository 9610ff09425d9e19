"""No served text holds a term of the blocklist, in its title or its description, whatever wrote
it: the model writes abuse into a batch's titles now and then, not only into a pitch's text."""

from __future__ import annotations

import pytest

from generator.ml.format import END_TOKEN, START_TOKEN, Sample, format_record
from generator.writing import BLOCKED, Policy, judge
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import invented_text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]


def _sample(row: int, title: str, description: str) -> Sample:
    record = format_record("movie", ["Dramas"], title, description)
    return Sample(record.removeprefix(START_TOKEN).removesuffix(END_TOKEN), True, 30, row)


def test_a_batch_drops_a_text_with_abuse_in_its_title_or_description() -> None:
    samples = [
        _sample(0, "Invented Film 0", invented_text(0, "film")),
        _sample(1, "Cunt", invented_text(1, "film")),
        _sample(2, "Invented Film 2", f"{invented_text(2, 'film')} What a bitch."),
        _sample(3, "Invented Film 3", invented_text(3, "film")),
    ]

    written = judge(samples, Policy(kind="movie", against_pool=False), None)

    assert [candidate.item.sample.row for candidate in written.kept] == [0, 3]
    assert written.rejections[BLOCKED] == 2
