"""TrainingConfig declares each hyperparameter once: the CLI and the admin form follow it."""

from dataclasses import fields

import pytest
from django.test import Client
from django.urls import reverse

from generator.management.commands.finetune import Command
from generator.ml.config import TrainingConfig
from generator.models import ModelRun
from tests.finetune_helpers import add_tiny_titles

NAMES = [setting.name for setting in fields(TrainingConfig)]


def test_every_hyperparameter_is_an_option_with_its_help_and_default() -> None:
    parser = Command().create_parser("manage.py", "finetune")
    actions = {action.dest: action for action in parser._actions}

    for setting in fields(TrainingConfig):
        action = actions[setting.name]
        assert f"--{setting.name.replace('_', '-')}" in action.option_strings
        assert action.help is not None and action.help.startswith(setting.metadata["help"])
        if setting.default is not None:
            assert action.help.endswith(f"default {setting.default:g}")
        # Not given stays None, so that a resume can refuse settings it would ignore.
        assert action.default is None
    assert parser.parse_args(["--trim-vocab", "no"]).trim_vocab is False
    assert parser.parse_args(["--trim-vocab"]).trim_vocab is True


@pytest.mark.django_db
def test_the_start_form_shows_every_hyperparameter_at_its_default(admin_client: Client) -> None:
    answer = admin_client.get(reverse("admin:generator_modelrun_start"))

    form = answer.context["form"]
    assert list(form.fields) == ["base", *NAMES, "limit"]
    for setting in fields(TrainingConfig):
        assert form.fields[setting.name].initial == setting.default
        assert form.fields[setting.name].help_text == setting.metadata["help"]
    assert form.fields["steps"].initial is None  # the default recipe: one epoch, not 200 steps


@pytest.mark.django_db
def test_form_and_cli_give_a_run_the_same_hyperparameters(admin_client: Client) -> None:
    add_tiny_titles()
    given = {
        "steps": 3,
        "patience": 2,
        "max_minutes": 7.5,
        "weight_decay": 0.05,
        "trim_vocab": False,
    }
    form = {"base": "smollm2-135m-instruct", **{k: str(v).lower() for k, v in given.items()}}

    answer = admin_client.post(reverse("admin:generator_modelrun_start"), form)

    assert answer.status_code == 302, answer.context and answer.context["form"].errors
    from_form = ModelRun.objects.get().hyperparameters
    parsed = (
        Command()
        .create_parser("manage.py", "finetune")
        .parse_args(
            [
                "--steps",
                "3",
                "--patience",
                "2",
                "--max-minutes",
                "7.5",
                "--weight-decay",
                "0.05",
                "--trim-vocab",
                "no",
            ]
        )
    )
    from_cli = TrainingConfig.from_given(vars(parsed)).as_dict()
    assert {name: from_form[name] for name in NAMES} == from_cli
    assert {name: from_cli[name] for name in given} == given
