"""Where a fine-tune's checkpoints live and which of them a run can resume. Plain Python: no torch.

Trainer writes `checkpoint-N/` directories (model, tokenizer, optimizer, scheduler, RNG) and keeps
only the newest; a finished run leaves one `final/` directory holding just the model and tokenizer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

# transformers.trainer_utils.PREFIX_CHECKPOINT_DIR, spelled out so this module needs no torch.
CHECKPOINT_PREFIX = "checkpoint-"
# Trainer writes its state last, so its presence marks a checkpoint that is complete and resumable.
RESUME_STATE = "trainer_state.json"
FINAL_CHECKPOINT = "final"


def checkpoint_step(path: Path) -> int:
    """The optimizer step a `checkpoint-N` directory was saved at."""
    return int(path.name.removeprefix(CHECKPOINT_PREFIX))


def is_resumable(path: Path) -> bool:
    return path.name.startswith(CHECKPOINT_PREFIX) and (path / RESUME_STATE).is_file()


def checkpoints(output_dir: Path) -> list[Path]:
    """The resumable checkpoints in `output_dir`, oldest step first."""
    if not output_dir.is_dir():
        return []
    found = [path for path in output_dir.iterdir() if path.is_dir() and is_resumable(path)]
    return sorted(found, key=checkpoint_step)


def discard_checkpoints(output_dir: Path) -> None:
    """Delete a finished run's resume checkpoints: once its final/ is recorded, their optimizer
    state is only dead weight on disk (before that, they are what a crash resumes from)."""
    for checkpoint in checkpoints(output_dir):
        shutil.rmtree(checkpoint, ignore_errors=True)


Built = TypeVar("Built")


def save_json(path: Path, payload: object) -> Path:
    """`payload` as JSON at `path` (a file beside a checkpoint), written whole or not at all: a
    worker may be reading it."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload), encoding="utf-8")
    temporary.replace(path)
    return path


def load_json_once(path: Path, build: Callable[[dict[str, Any]], Built]) -> Built | None:
    """What `build` makes of the JSON file at `path`, or None where there is none; read once per
    process until the file changes (every batch and pitch asks)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return _built(str(path), stat.st_mtime_ns, stat.st_size, build)


@lru_cache(maxsize=8)
def _built(path: str, mtime_ns: int, size: int, build: Callable[[dict[str, Any]], Built]) -> Built:
    return build(json.loads(Path(path).read_text(encoding="utf-8")))
