"""While nothing is servable, `/` and its htmx status poller say truthfully what the site does."""

from __future__ import annotations

import html as html_module
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from generator.models import GeneratedDescription, ModelRun
from tests.factories import GeneratedDescriptionFactory, ModelRunFactory, TrainingTitleFactory
from tests.pages import CARD_ID, card_id, tag

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_top_up_nudge")]

HTMX = {"HX-Request": "true"}
COMMAND = "python3 dev.py run --titles path/to/netflix_titles.csv"


def page_and_partial() -> tuple[str, str]:
    """The whole home page and the status partial its poller fetches, as text."""
    page = Client().get("/")
    partial = Client().get("/status/", headers=HTMX)
    assert page.status_code == 200 and partial.status_code == 200
    return html_module.unescape(page.content.decode()), html_module.unescape(
        partial.content.decode()
    )


def both_say(*texts: str) -> str:
    page, partial = page_and_partial()
    for text in texts:
        assert text in page, f"{text!r} not on /"
        assert text in partial, f"{text!r} not in the status partial"
    assert CARD_ID.search(page) is None
    assert "<html" not in partial and "<html" in page  # the partial is only the region
    return page


def test_no_training_data_gives_the_one_command_that_fixes_it() -> None:
    page = both_say("No training data yet", COMMAND)

    poller = tag(r'<div class="site-status"[^>]*>', page)
    assert 'hx-get="/status/"' in poller and 'hx-trigger="every 5s"' in poller
    # It replaces only itself: the empty card around it targets the whole card region.
    assert 'hx-target="this"' in poller and 'hx-swap="outerHTML"' in poller
    assert '<noscript><meta http-equiv="refresh" content="15"></noscript>' in page


def test_titles_without_a_run_give_the_command_too() -> None:
    TrainingTitleFactory.create()

    both_say("No model is training yet", COMMAND)


def test_a_queued_run_is_about_to_start() -> None:
    TrainingTitleFactory.create()
    ModelRunFactory.create(status=ModelRun.Status.QUEUED)

    both_say("Training is about to start")


def test_a_training_run_shows_its_step_a_progress_bar_and_an_eta() -> None:
    started = timezone.now() - timedelta(minutes=10)
    ModelRunFactory.create(
        status=ModelRun.Status.RUNNING,
        step=50,
        total_steps=200,
        started_at=started,
        heartbeat_at=started + timedelta(minutes=10),
        base="/srv/secret/models/bases/smollm2",
    )

    page = both_say("Training step 50 of 200", "25% done", "about 30 minutes left")

    assert '<progress class="training-progress" value="50" max="200"' in page
    assert "/srv/secret" not in page and "smollm2" not in page  # no internals for visitors


def test_the_eta_ends_with_the_runs_time_budget() -> None:
    started = timezone.now() - timedelta(minutes=10)
    ModelRunFactory.create(
        status=ModelRun.Status.RUNNING,
        step=100,
        total_steps=1000,  # 90 more minutes at this pace, but the budget stops it at 50
        started_at=started,
        heartbeat_at=started + timedelta(minutes=10),
        hyperparameters={"max_minutes": 50.0},
    )

    both_say("Training step 100 of 1000", "about 40 minutes left")


def test_a_trained_flagged_run_is_being_evaluated() -> None:
    ModelRunFactory.create(activate_when_good=True, checkpoint_path="/x")

    both_say("Evaluating the model")


def test_a_refused_run_says_which_check_it_failed() -> None:
    reason = "discriminator AUC 0.912 is above 0.750"
    ModelRunFactory.create(
        activate_when_good=True, activation="refused", activation_problems=reason
    )

    both_say("The model did not pass the quality gate", reason)


def test_a_failed_run_says_training_stopped_without_its_traceback() -> None:
    ModelRunFactory.create(
        status=ModelRun.Status.FAILED, error="Traceback (most recent call last): /srv/secret"
    )

    page = both_say("Training stopped", "resumes it from its last checkpoint")
    assert "Traceback" not in page and "/srv/secret" not in page


def test_an_active_run_with_nothing_servable_is_writing_the_first_descriptions() -> None:
    run = ModelRunFactory.create(is_active=True, checkpoint_path="/x")
    GeneratedDescriptionFactory.create(model_run=run, status=GeneratedDescription.Status.PENDING)

    both_say("Writing the first descriptions")


def test_the_first_servable_description_replaces_the_status() -> None:
    run = ModelRunFactory.create(is_active=True, checkpoint_path="/x")
    visitor = Client()
    waiting = visitor.get("/").content.decode()
    assert "Writing the first descriptions" in waiting

    description = GeneratedDescriptionFactory.create(model_run=run)
    ready = visitor.get("/status/", headers=HTMX).content.decode()
    # The ready status fetches this visitor's first card into the card region on load.
    fetcher = tag(r'<div class="site-status"[^>]*>', ready)
    assert 'hx-get="/"' in fetcher and 'hx-trigger="load"' in fetcher
    assert 'hx-target="#card-region"' in fetcher and "every" not in fetcher
    card = visitor.get("/", headers={**HTMX, "HX-Trigger": "site-status"})
    page = visitor.get("/").content.decode()

    assert card.status_code == 200
    assert card_id(card.content.decode()) == description.pk
    assert "Writing the first descriptions" not in card.content.decode()
    assert 'class="site-status"' not in page and "http-equiv" not in page
    assert card_id(page) == description.pk


def test_the_status_view_without_htmx_sends_the_visitor_home() -> None:
    response = Client().get("/status/?kind=tv")

    assert response.status_code == 302
    assert response["Location"] == "/?kind=tv"
