"""The fine-tuning runs admin answers bad parameters with 400 or a form error, never a 500."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from generator.ml.bases import DEFAULT_BASE
from generator.models import ModelRun
from tests.finetune_helpers import add_tiny_titles

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:generator_modelrun_changelist")
START = reverse("admin:generator_modelrun_start")
OVERFLOW = "99999999999999999999999"
BAD_IDS = ["²", OVERFLOW, "-1", "0", "1.5", " 1", "١", "nan", ""]
GOOD_FORM = {
    "base": DEFAULT_BASE,
    "steps": "4",
    "batch_size": "4",
    "grad_accum": "1",
    "lr": "0.003",
    "warmup": "1",
    "max_length": "64",
    "seed": "1",
    "eval_every": "2",
    "sample_every": "4",
    "save_every": "2",
}


@pytest.fixture
def admin(admin_client: Client) -> Client:
    admin_client.raise_request_exception = False  # a 500 is a status to assert, not a crash
    return admin_client


@pytest.mark.parametrize("action", ["activate_run", "resume_runs", "delete_selected"])
@pytest.mark.parametrize("value", BAD_IDS)
def test_a_bad_selected_run_is_a_bad_request(admin: Client, action: str, value: str) -> None:
    run = ModelRun.objects.create(base="tiny", status=ModelRun.Status.FAILED)

    answer = admin.post(CHANGELIST, {"action": action, "_selected_action": [str(run.pk), value]})

    assert answer.status_code == 400
    run.refresh_from_db()
    assert run.status == ModelRun.Status.FAILED and not run.is_active


def test_good_selected_runs_still_reach_the_action(admin: Client) -> None:
    run = ModelRun.objects.create(base="tiny", status=ModelRun.Status.FAILED)

    answer = admin.post(CHANGELIST, {"action": "resume_runs", "_selected_action": [str(run.pk)]})

    assert answer.status_code == 302
    run.refresh_from_db()
    assert run.status == ModelRun.Status.QUEUED


@pytest.mark.parametrize(
    "field",
    [
        "steps",
        "batch_size",
        "grad_accum",
        "warmup",
        "max_length",
        "seed",
        "limit",
        "eval_every",
        "sample_every",
        "save_every",
    ],
)
@pytest.mark.parametrize("value", [OVERFLOW, "²", "1.5", "nan"])
def test_a_bad_start_form_number_is_a_form_error(admin: Client, field: str, value: str) -> None:
    add_tiny_titles()

    answer = admin.post(START, {**GOOD_FORM, field: value})

    assert answer.status_code == 200
    assert answer.context["form"].errors.get(field)
    assert not ModelRun.objects.exists()


def test_a_seed_numpy_cannot_take_is_a_form_error(admin: Client) -> None:
    add_tiny_titles()

    answer = admin.post(START, {**GOOD_FORM, "seed": str(2**32)})

    assert answer.context["form"].errors.get("seed")
    assert not ModelRun.objects.exists()


@pytest.mark.parametrize("value", [OVERFLOW, "1e300", "inf", "nan", "²"])
def test_epochs_that_overflow_the_step_count_are_a_form_error(admin: Client, value: str) -> None:
    add_tiny_titles()
    form = {key: value for key, value in GOOD_FORM.items() if key != "steps"}

    answer = admin.post(START, {**form, "epochs": value})

    assert answer.status_code == 200
    assert answer.context["form"].errors.get("epochs")
    assert not ModelRun.objects.exists()


def test_the_largest_numbers_the_form_takes_make_a_run(admin: Client) -> None:
    add_tiny_titles()
    largest = {"steps": str(2**31 - 1), "seed": str(2**32 - 1), "limit": str(2**31 - 1)}

    answer = admin.post(START, {**GOOD_FORM, **largest})

    assert answer.status_code == 302, answer.context and answer.context["form"].errors
    run = ModelRun.objects.get()
    assert (run.hyperparameters["steps"], run.hyperparameters["seed"]) == (2**31 - 1, 2**32 - 1)


@pytest.mark.parametrize(
    "parameters",
    [
        {"status": "²"},
        {"is_active__exact": "²"},
        {"is_active__exact": OVERFLOW},
        {"o": "²"},
        {"o": OVERFLOW},
        {"p": "²"},
        {"p": OVERFLOW},
    ],
)
def test_bad_list_parameters_are_never_a_server_error(
    admin: Client, parameters: dict[str, Any]
) -> None:
    ModelRun.objects.create(base="tiny")

    assert admin.get(CHANGELIST, parameters).status_code in (200, 302, 400, 404)


@pytest.mark.parametrize("value", ["²", OVERFLOW, "1.5", "nan"])
@pytest.mark.parametrize("page", ["change", "history", "delete"])
def test_a_bad_run_id_in_the_path_is_never_a_server_error(
    admin: Client, value: str, page: str
) -> None:
    answer = admin.get(f"{CHANGELIST}{value}/{page}/")

    assert answer.status_code in (302, 404)
