"""The admin lists runs, charts loss, shows samples escaped, activates one run and starts runs."""

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from config.celery import app as celery_app
from generator.models import ModelRun
from tests.factories import PASSING_REALISM
from tests.finetune_helpers import add_tiny_titles
from tests.tiny_model import build_tiny_checkpoint

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:generator_modelrun_changelist"


def _done_run(**fields: Any) -> ModelRun:
    values = {
        "base": "tiny",
        "status": ModelRun.Status.DONE,
        "checkpoint_path": "/models/runs/run-00001/step-000200",
        "step": 200,
        "total_steps": 200,
        "train_loss_curve": [[1, 4.2], [100, 2.9], [200, 2.5]],
        "eval_loss_curve": [[100, 2.8], [200, 2.6]],
        "base_eval_loss": 4.1,
        "tokens_per_second": 95.0,
        # Within the quality gate, so activating it needs no confirmation.
        "realism": PASSING_REALISM,
        **fields,
    }
    return ModelRun.objects.create(**values)


def _activate(client: Client, *runs: ModelRun) -> Any:
    return client.post(
        reverse(CHANGELIST),
        {"action": "activate_run", "_selected_action": [run.pk for run in runs]},
        follow=True,
    )


def test_the_activate_action_makes_exactly_one_run_active(admin_client: Client) -> None:
    first, second = _done_run(), _done_run()

    _activate(admin_client, first)
    response = _activate(admin_client, second)

    assert f"Run #{second.pk} is now the active model." in response.content.decode()
    assert ModelRun.objects.active() == second
    assert list(ModelRun.objects.filter(is_active=True)) == [second]


def test_an_unfinished_run_cannot_be_activated(admin_client: Client) -> None:
    failed = _done_run(status=ModelRun.Status.FAILED)

    response = _activate(admin_client, failed)

    assert "only a finished run can be activated" in response.content.decode()
    assert ModelRun.objects.active() is None


def test_the_list_shows_progress_losses_and_throughput(admin_client: Client) -> None:
    run = _done_run(
        samples=[{"step": 200, "texts": ["<|film|>[Movie] [Dramas] Title: A | B.<|/film|>"]}]
    )

    page = admin_client.get(reverse(CHANGELIST)).content.decode()

    cells = dict(re.findall(r'<t[hd] class="field-(\w+)[^"]*">(.*?)</t[hd]>', page, re.DOTALL))
    assert f">#{run.pk} tiny</a>" in cells["run_label"]
    assert cells["progress"] == "200 / 200"
    assert (cells["train_loss"], cells["eval_loss"], cells["base_loss"]) == (
        "2.500",
        "2.600",
        "4.100",
    )
    assert cells["throughput"] == "95"
    assert cells["sample_count"] == "1"
    assert cells["latest_sample"] == "&lt;|film|&gt;[Movie] [Dramas] Title: A | B.&lt;|/film|&gt;"
    assert "Start fine-tune" in page


def test_the_detail_page_charts_the_loss_and_escapes_samples(admin_client: Client) -> None:
    evil = '<script>alert("x")</script>'
    run = _done_run(samples=[{"step": 100, "texts": [evil]}, {"step": 200, "texts": ["fine"]}])

    page = admin_client.get(reverse("admin:generator_modelrun_change", args=[run.pk]))
    html = page.content.decode()

    assert page.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and "<polyline" in html
    assert "base model eval loss" in html
    assert evil not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert html.index("Step 200") < html.index("Step 100")  # newest checkpoint first
    assert "perplexity" in html


def test_the_start_form_queues_a_run_that_trains(
    admin_client: Client,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MODEL_DIR = tmp_path / "models"
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    # The worker's autodiscovery registers the task; without it the signature is only a name.
    importlib.import_module("generator.tasks")
    add_tiny_titles()
    base = build_tiny_checkpoint(tmp_path / "base")
    form = {
        "base": str(base),
        "steps": 4,
        "batch_size": 4,
        "grad_accum": 1,
        "lr": 0.003,
        "warmup": 1,
        "max_length": 64,
        "seed": 1,
        "eval_every": 2,
        "sample_every": 4,
        "save_every": 2,
    }

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(reverse("admin:generator_modelrun_start"), form)

    run = ModelRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:generator_modelrun_change", args=[run.pk])
    # The fine-tune, then the realism evaluation it queues for its finished run.
    assert [callback.__self__.task for callback in callbacks] == [
        "generator.finetune",
        "generator.evaluate_run",
    ]
    assert run.status == ModelRun.Status.DONE, run.error
    assert run.step == 4 and run.checkpoint_path.endswith("final")
    assert [point[0] for point in run.eval_loss_curve] == [2, 4]
    assert run.hyperparameters["data"] == "database" and run.hyperparameters["steps"] == 4


def test_the_start_form_rejects_bad_settings(admin_client: Client) -> None:
    add_tiny_titles()

    response = admin_client.post(
        reverse("admin:generator_modelrun_start"),
        {
            "base": "/no/such/base",
            "steps": 5,
            "batch_size": 8,
            "grad_accum": 1,
            "lr": 0,
            "warmup": 0,
            "max_length": 96,
            "seed": 1,
            "eval_every": 0,
            "sample_every": 0,
            "save_every": 0,
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "no such checkpoint directory" in html
    assert not ModelRun.objects.exists()


def test_the_add_button_opens_the_start_form(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:generator_modelrun_add"))

    assert response["Location"] == reverse("admin:generator_modelrun_start")
    assert "Queue fine-tune" in admin_client.get(response["Location"]).content.decode()
