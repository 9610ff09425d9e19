"""The review pages: the queue, filters and search, the text beside its source, all escaped."""

from typing import Any

import pytest
from django.test import Client

from generator import overfit_check
from generator.models import GeneratedDescription, ModelRun
from tests.corpus import ORIGINALS, load_training_titles, text_of
from tests.factories import GeneratedDescriptionFactory
from titles.models import Genre, TrainingTitle

pytestmark = pytest.mark.django_db
Status = GeneratedDescription.Status
LIST = "/admin/generator/generateddescription/"


def _checked(text: str, title: str = "An Original Title", **fields: Any) -> GeneratedDescription:
    """A text stored with the status and evidence the pipeline hook gives it."""
    fields = {**overfit_check.stored_fields(text, title), **fields}
    return GeneratedDescriptionFactory.create(text=text, title=title, **fields)


def _shown(client: Client, **params: Any) -> set[int]:
    response = client.get(LIST, params)
    assert response.status_code == 200
    return {description.pk for description in response.context["cl"].result_list}


def test_the_list_opens_on_the_review_queue(admin_client: Client) -> None:
    pending = GeneratedDescriptionFactory.create(text=ORIGINALS[0], status=Status.PENDING)
    held = GeneratedDescriptionFactory.create(text=ORIGINALS[1], status=Status.OVERFIT)
    approved = GeneratedDescriptionFactory.create(text=ORIGINALS[2], status=Status.APPROVED)
    rejected = GeneratedDescriptionFactory.create(text=ORIGINALS[3], status=Status.REJECTED)

    landing = admin_client.get(LIST)

    assert landing.status_code == 302 and landing["Location"] == f"{LIST}?queue=review"
    assert _shown(admin_client, queue="review") == {pending.pk, held.pk}
    assert _shown(admin_client, queue="all") == {pending.pk, held.pk, approved.pk, rejected.pk}
    assert _shown(admin_client, queue="review", status__exact="approved") == {approved.pk}


def test_the_list_shows_each_text_with_its_copied_span_marked(admin_client: Client) -> None:
    load_training_titles()
    copied = "a radio host and a hacker race to find out who switched the city off"
    held = _checked(f"In Lima, {copied}.")

    page = admin_client.get(LIST, {"queue": "review"}).content.decode()

    assert held.status == Status.OVERFIT
    assert f"In Lima, <mark>{copied}</mark>." in page
    assert f'name="decide" value="approve:{held.pk}"' in page
    assert f'name="decide" value="reject:{held.pk}"' in page
    assert "review.js" in page and "<kbd>j</kbd>" in page


def test_untrusted_texts_are_escaped_everywhere(admin_client: Client) -> None:
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)>'
    TrainingTitle.objects.create(
        show_id="evil",
        kind="movie",
        title="<b>Bold</b>",
        description=f"Four friends open a bakery in Leeds {hostile} and the town loves it.",
        source="text",
    )
    text = _checked(
        f"Four friends open a bakery in Leeds {hostile} and the town loves it!",
        title='<i onmouseover="x">Hostile</i>',
    )

    listing = admin_client.get(LIST, {"queue": "all"}).content.decode()
    detail = admin_client.get(f"{LIST}{text.pk}/change/").content.decode()

    for page in (listing, detail):
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;" in page
        assert '<i onmouseover="x">' not in page
    assert "&lt;b&gt;Bold&lt;/b&gt;" in detail


def test_the_text_page_shows_the_nearest_description_with_the_copied_runs(
    admin_client: Client,
) -> None:
    load_training_titles()
    text = text_of("f8").replace("Ottilie Brandt", "Margit Svensson")
    description = _checked(text)

    page = admin_client.get(f"{LIST}{description.pk}/change/").content.decode()

    assert description.status == Status.OVERFIT
    assert f"Score {description.overfit_score:.2f} (held at 0.75)" in page
    assert "Training title f8: Queen of the Ferry" in page
    assert "Captain Margit Svensson <mark>has run the Hamburg harbour ferry" in page
    assert "Captain Ottilie Brandt <mark>has run the Hamburg harbour ferry" in page
    assert 'value="approve"' in page and 'value="reject"' in page and 'value="recheck"' in page
    assert 'value="hold"' not in page  # it is held already
    assert 'name="_save"' not in page  # every field is read-only


def test_the_text_page_shows_a_near_duplicate_of_a_generated_text(admin_client: Client) -> None:
    first = _checked(ORIGINALS[7])
    second = _checked(ORIGINALS[7].replace("retired judge", "retired sheriff"))

    page = admin_client.get(f"{LIST}{second.pk}/change/").content.decode()

    assert second.overfit_reason == GeneratedDescription.OverfitReason.DUPLICATE
    assert f"Generated text #{first.pk}" in page
    assert "<mark>" in page


def test_a_text_whose_source_left_the_training_set_says_so(admin_client: Client) -> None:
    load_training_titles()
    description = _checked(text_of("f4"))
    TrainingTitle.objects.filter(show_id="f4").delete()

    page = admin_client.get(f"{LIST}{description.pk}/change/").content.decode()

    assert "Training title f4 is no longer in the training set" in page


def test_filters_by_score_run_kind_genre_reports_and_reason(
    admin_client: Client, settings: Any
) -> None:
    load_training_titles()
    run = ModelRun.objects.create(base="tiny")
    drama = Genre.objects.create(name="Dramas", slug="dramas")
    exact = _checked(text_of("f1"), model_run=run, report_count=4)
    clear = _checked(ORIGINALS[0], kind="tv")
    clear.genres.add(drama)
    borderline = _checked(
        "A reclusive violinist in Lisbon hears her late teacher on the radio every night, until "
        "a radio host and a hacker race to find the source of the broadcast."
    )
    unchecked = GeneratedDescriptionFactory.create(text=ORIGINALS[1])

    assert _shown(admin_client, queue="all", score="overfit") == {exact.pk}
    assert _shown(admin_client, queue="all", score="borderline") == {borderline.pk}
    assert _shown(admin_client, queue="all", score="clear") == {clear.pk}
    assert _shown(admin_client, queue="all", score="unchecked") == {unchecked.pk}
    assert _shown(admin_client, queue="all", run=run.pk) == {exact.pk}
    assert _shown(admin_client, queue="all", kind__exact="tv") == {clear.pk}
    assert _shown(admin_client, queue="all", genres__id__exact=drama.pk) == {clear.pk}
    assert _shown(admin_client, queue="all", reports="many") == {exact.pk}
    assert _shown(admin_client, queue="all", reports="none") == {
        clear.pk,
        borderline.pk,
        unchecked.pk,
    }
    assert _shown(admin_client, queue="all", overfit_reason__exact="exact") == {exact.pk}


def test_search_finds_titles_texts_and_show_ids(admin_client: Client) -> None:
    load_training_titles()
    copy = _checked(text_of("f22"), title="Frozen Breath")
    other = _checked(ORIGINALS[4], title="Flat-Pack")

    assert other.nearest_show_id != "f22"
    assert _shown(admin_client, queue="all", q="frozen breath") == {copy.pk}
    assert _shown(admin_client, queue="all", q="catholic grandmother") == {other.pk}
    assert _shown(admin_client, queue="all", q="f22") == {copy.pk}


def test_fifty_texts_fit_one_page_and_one_action_clears_them(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    texts = [
        GeneratedDescriptionFactory.create(
            text=f"{ORIGINALS[n % 14]} Part {n}.", status=Status.PENDING
        )
        for n in range(50)
    ]

    with django_assert_max_num_queries(20):
        page = admin_client.get(LIST, {"queue": "review"})
    assert len(page.context["cl"].result_list) == 50
    response = admin_client.post(
        f"{LIST}?queue=review",
        {"action": "approve_selected", "_selected_action": [t.pk for t in texts], "index": 0},
    )

    assert response.status_code == 302
    assert GeneratedDescription.objects.filter(status=Status.APPROVED).count() == 50
    assert _shown(admin_client, queue="review") == set()


def test_the_keyboard_script_is_served_from_the_admin(admin_client: Client) -> None:
    response = admin_client.get(f"{LIST}review.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    assert 'addEventListener("keydown"' in body
    assert "approve_selected" in body and "{%" not in body


def test_the_keyboard_script_needs_a_staff_login() -> None:
    response = Client().get(f"{LIST}review.js")

    assert response.status_code == 302
