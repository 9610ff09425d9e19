"""The runs admin shows realism against the gate, queues evaluations, compares runs and guards
activation with the quality gate."""

import importlib
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from config.celery import app as celery_app
from generator.models import ModelRun
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used below
from tests.factories import TrainingTitleFactory, invented_text
from titles.models import Kind

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:generator_modelrun_changelist"
GOOD: dict[str, Any] = {
    "discriminator_auc": 0.61,
    "distinct_2": 0.83,
    "real_distinct_2": 0.85,
    "length_distance": 0.12,
    "format_failure_rate": 0.01,
    "real_title_rate": 0.0,
    "copy_rate": 0.0,
    "embedding_auc": 0.66,
    "invented_word_rate": 0.02,
    "slip_rate": 0.0,
    "samples": 300,
    "real_texts": 300,
    "seed": 0,
    "eval_loss": 2.6,
    "evaluated_at": "2026-01-02T03:04:05+00:00",
    "seconds": 41.5,
}


def _done_run(**fields: Any) -> ModelRun:
    values = {
        "base": "tiny",
        "status": ModelRun.Status.DONE,
        "checkpoint_path": "/models/runs/run-00001/final",
        "step": 200,
        "total_steps": 200,
        "train_records": 900,
        "eval_records": 47,
        "train_loss_curve": [[1, 4.2], [100, 2.9], [200, 2.5]],
        "eval_loss_curve": [[100, 2.8], [200, 2.6]],
        "base_eval_loss": 4.1,
        **fields,
    }
    return ModelRun.objects.create(**values)


def _detail(client: Client, run: ModelRun) -> str:
    response = client.get(reverse("admin:generator_modelrun_change", args=[run.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _rows(html: str) -> dict[str, list[str]]:
    """Table rows by their header cell: the text of each data cell."""
    rows = {}
    for header, cells in re.findall(
        r"<tr>\s*<th scope=\"row\">(.*?)</th>(.*?)</tr>", html, re.DOTALL
    ):
        texts = re.findall(r"<td[^>]*>(.*?)</td>", cells, re.DOTALL)
        rows[header] = [re.sub(r"<[^>]+>", "", text).strip() for text in texts]
    return rows


def _action(client: Client, action: str, *runs: ModelRun, **extra: str) -> Any:
    data = {"action": action, "_selected_action": [run.pk for run in runs], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_the_detail_page_shows_each_figure_against_the_gate(admin_client: Client) -> None:
    run = _done_run(realism={**GOOD, "discriminator_auc": 0.81})

    rows = _rows(_detail(admin_client, run))

    assert rows["discriminator AUC"][:2] == ["0.810", "✗ ≤ 0.75"]
    assert "0.5 cannot, 1.0 always can" in rows["discriminator AUC"][2]
    assert rows["distinct-2"][:2] == ["0.830", "✓ ≥ 85% of real (is 98%)"]
    assert rows["copy rate"][:2] == ["0.0%", "✓ ≤ 2.0%"]
    assert rows["format failures"][:2] == ["1.0%", ""]
    html = _detail(admin_client, run)
    assert "Quality gate failed: discriminator AUC 0.810 is above 0.750" in html
    assert "Evaluate again" in html


def test_reranked_figures_say_so_and_show_the_figures_before_reranking(
    admin_client: Client,
) -> None:
    before = {**GOOD, "discriminator_auc": 0.83, "distinct_2": 0.79}
    reranking = {"keep_share": 0.5, "scorer": True}
    reranked = {**GOOD, "before_reranking": before, "reranking": reranking}
    plain = _detail(admin_client, _done_run(realism=GOOD))

    html = _detail(admin_client, _done_run(realism=reranked))

    assert "the 50% of each batch's good texts, copies held, that the run's reranker" in html
    assert "Of all samples: discriminator AUC 0.830, distinct-2 0.790." in html
    assert "Of all samples" not in plain


def test_an_unevaluated_run_offers_the_evaluate_button_to_who_may_change_runs(
    admin_client: Client, client: Client
) -> None:
    run = _done_run()
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_modelrun"))
    client.force_login(viewer)
    url = reverse("admin:generator_modelrun_evaluate", args=[run.pk])

    assert "Not evaluated yet." in _detail(admin_client, run)
    assert f'formaction="{url}"' in _detail(admin_client, run)
    assert "Not evaluated yet." in _detail(client, run)
    assert "formaction" not in _detail(client, run)
    assert client.post(url).status_code == 403
    assert admin_client.get(url).status_code == 405


def test_the_evaluate_button_queues_the_evaluation_that_fills_the_table(
    admin_client: Client,
    active_run: ModelRun,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    fresh_training_detector: None,  # noqa: F811 - the fixture imported above
) -> None:
    for n in range(30):
        TrainingTitleFactory.create(
            kind=(Kind.MOVIE, Kind.TV_SHOW)[n % 2], description=invented_text(n, "real")
        )
    ModelRun.objects.filter(pk=active_run.pk).update(
        hyperparameters={"data": "database", "limit": None, "seed": 1, "eval_fraction": 0.1}
    )
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    # The worker's autodiscovery registers the task; without it the signature is only a name.
    importlib.import_module("generator.tasks")
    url = reverse("admin:generator_modelrun_evaluate", args=[active_run.pk])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(url, follow=True)

    assert len(callbacks) == 1
    assert "evaluation is queued on the gpu queue" in response.content.decode()
    active_run.refresh_from_db()
    assert active_run.realism["samples"] == 300
    rows = _rows(_detail(admin_client, active_run))
    assert rows["copy rate"][0] == f"{active_run.realism['copy_rate']:.1%}"


def test_a_run_that_is_not_done_is_not_queued(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    run = _done_run(status=ModelRun.Status.FAILED)

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:generator_modelrun_evaluate", args=[run.pk]), follow=True
        )

    assert callbacks == []
    assert "only a finished run with a checkpoint is evaluated" in response.content.decode()


def test_the_list_shows_auc_and_distinct_2(admin_client: Client) -> None:
    _done_run(realism=GOOD)

    page = admin_client.get(reverse(CHANGELIST)).content.decode()

    cells = dict(re.findall(r'<t[hd] class="field-(\w+)[^"]*">(.*?)</t[hd]>', page, re.DOTALL))
    assert (cells["auc_label"], cells["distinct_2_label"]) == ("0.610", "0.830")


def test_compare_puts_runs_side_by_side_with_the_better_value_marked(
    admin_client: Client,
) -> None:
    first = _done_run(realism=GOOD)
    second = _done_run(
        base="other",
        eval_loss_curve=[[200, 2.4]],
        realism={**GOOD, "discriminator_auc": 0.7, "copy_rate": 0.03},
    )

    response = _action(admin_client, "compare_runs", first, second)

    rows = _rows(response.content.decode())
    assert rows["base"] == ["tiny", "other"]
    assert rows["steps"] == ["200", "200"]
    assert rows["records (train / eval)"] == ["900 / 47", "900 / 47"]
    assert rows["eval loss"] == ["2.600", "2.400 ✓"]
    assert rows["discriminator AUC"] == ["0.610 ✓", "0.700"]
    assert rows["copy rate"] == ["0.0% ✓", "3.0%"]
    assert rows["distinct-2"] == ["0.830", "0.830"]  # equal: neither is better
    assert rows["quality gate"] == ["passed", "failed: copy rate 3.0% is above 2.0%"]


def test_compare_needs_two_runs(admin_client: Client) -> None:
    response = _action(admin_client, "compare_runs", _done_run())

    assert "Select two or more runs to compare." in response.content.decode()


def test_activating_a_worse_run_is_refused_until_confirmed(admin_client: Client) -> None:
    active = _done_run(realism=GOOD, is_active=True)
    worse = _done_run(realism={**GOOD, "discriminator_auc": 0.72})

    refused = _action(admin_client, "activate_run", worse).content.decode()

    assert ModelRun.objects.active() == active
    assert "Activate anyway" in refused
    assert "discriminator AUC: 0.720 against the active run&#x27;s 0.610" in refused
    assert f"Run #{worse.pk} is not activated" in refused

    confirmed = _action(admin_client, "activate_run", worse, confirm="yes").content.decode()

    assert f"Run #{worse.pk} is now the active model." in confirmed
    assert ModelRun.objects.active() == worse


def test_a_run_failing_the_gate_or_never_evaluated_needs_confirmation(
    admin_client: Client,
) -> None:
    copying = _done_run(realism={**GOOD, "copy_rate": 0.2})
    unevaluated = _done_run()

    assert (
        "copy rate 20.0% is above 2.0%"
        in _action(admin_client, "activate_run", copying).content.decode()
    )
    assert (
        "not evaluated yet" in _action(admin_client, "activate_run", unevaluated).content.decode()
    )
    assert ModelRun.objects.active() is None


def test_a_good_run_is_activated_at_once(admin_client: Client) -> None:
    _done_run(realism={**GOOD, "discriminator_auc": 0.7}, is_active=True)
    better = _done_run(realism=GOOD)

    response = _action(admin_client, "activate_run", better)

    assert f"Run #{better.pk} is now the active model." in response.content.decode()
    assert ModelRun.objects.active() == better
