"""Fine-tuning throughput and model-FLOPs utilisation (MFU) of the real training loop.

    .venv/bin/python bench/finetune.py [--base smollm2-135m-instruct|gemma3-270m|DIR] [--steps 6]
                                       [--batch-size 8] [--max-length 96] [--device cpu|cuda|all]
                                       [--titles netflix_titles.csv] [--[no-]trim-vocab]
                                       [--threads N]

Runs generator.ml.training.FineTune (transformers' Trainer) for a few optimizer steps on records
cut to exactly --max-length tokens (so tokens per step are known), times the steps after the
first, and reports tokens/s and MFU = 6 x parameters x tokens/s / peak FLOP/s. The peak is
measured in the same run with a large matmul (fp32 on CPU, bf16 on CUDA), so the MFU is the
share of what this device reaches on dense matmuls; on CUDA the datasheet peak, when known, is
printed as well. With --titles the records are the CSV's (each description doubled, so every
record still fills --max-length), which is what --trim-vocab keeps the vocabulary of: the real
corpus's vocabulary size, not the bench's own few words. Seconds per step are printed too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "site")]

import torch  # noqa: E402
from transformers import (  # noqa: E402
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from generator.ml.bases import DEFAULT_BASE, NAMED_BASES, resolve_base  # noqa: E402
from generator.ml.config import TrainingConfig  # noqa: E402
from generator.ml.dataset import read_titles  # noqa: E402
from generator.ml.format import format_record  # noqa: E402
from generator.ml.training import FineTune  # noqa: E402
from generator.ml.vocab import vocabulary_rows  # noqa: E402

# Dense bf16 tensor-core peaks (no sparsity), FLOP/s.
DATASHEET_BF16_PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12}


@dataclass(frozen=True)
class Result:
    device: str
    tokens_per_second: float
    parameters: int
    peak_flops: float
    seconds_per_step: float
    vocabulary: int

    @property
    def model_flops(self) -> float:
        return 6 * self.parameters * self.tokens_per_second

    @property
    def mfu(self) -> float:
        return self.model_flops / self.peak_flops


class _StepTimer(TrainerCallback):
    """Wall time at the end of each optimizer step: no eval, samples or saves fall between them."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if args.device.type == "cuda":
            torch.cuda.synchronize(args.device)
        self.times.append(time.perf_counter())


def matmul_peak(
    device: torch.device, dtype: torch.dtype | None = None, seconds: float = 2.0
) -> float:
    """FLOP/s of a large square matmul in `dtype` (default: fp32 on CPU, bf16 on CUDA): its
    fastest run in `seconds`, so a neighbour's load during some runs does not lower the limit
    MFU is measured against."""
    size = 2048 if device.type == "cpu" else 8192
    if dtype is None:
        dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.matmul(a, b)
    _sync(device)
    fastest, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        began = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        fastest = min(fastest, time.perf_counter() - began)
    return 2 * size**3 / fastest


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _records(count: int, titles: Path | None) -> list[str]:
    if titles is not None:
        # The real corpus (its vocabulary is what a trim keeps), doubled to fill max_length.
        return [
            format_record(t.kind, t.genres, t.title, f"{t.description} {t.description}")
            for t in read_titles(titles)
            if t.kind and t.title
        ]
    # Long enough that every record is cut to exactly max_length tokens.
    description = " ".join(f"A lighthouse keeper audits ghost number {i}." for i in range(40))
    return [format_record("movie", ["Dramas"], f"Bench {i}", description) for i in range(count)]


def measure(base_path: str, device_kind: str, args: argparse.Namespace) -> Result:
    device = torch.device(device_kind)
    config = TrainingConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        max_length=args.max_length,
        warmup=1,
        eval_every=0,
        sample_every=0,
        save_every=0,
        num_samples=1,
        eval_fraction=0.01,
        max_eval_records=1,
        trim_vocab=args.trim_vocab,
    )
    timer = _StepTimer()
    with tempfile.TemporaryDirectory() as output:
        fine_tune = FineTune(
            base_path,
            _records(args.batch_size * args.steps + 2, args.titles),
            Path(output),
            config,
            callbacks=[timer],
            show_progress=False,
            device=device_kind,
        )
        fine_tune.run()
    tokens_per_step = args.batch_size * args.max_length
    # The first step pays one-off costs (allocator, kernels); time from its end.
    elapsed = timer.times[-1] - timer.times[0]
    tokens_per_second = tokens_per_step * (len(timer.times) - 1) / elapsed
    start = fine_tune.start
    seconds_per_step = elapsed / (len(timer.times) - 1)
    vocabulary = vocabulary_rows(fine_tune.model)
    return Result(
        start.device,
        tokens_per_second,
        start.parameters,
        matmul_peak(device),
        seconds_per_step,
        vocabulary,
    )


def _print(result: Result, base: str) -> None:
    print(f"device            {result.device}")
    print(f"base              {base} ({result.parameters / 1e6:.1f}M parameters)")
    print(f"vocabulary        {result.vocabulary:,} rows")
    print(f"seconds/step      {result.seconds_per_step:.2f}")
    print(f"tokens/s          {result.tokens_per_second:,.0f}")
    print(f"model FLOP/s      {result.model_flops / 1e9:,.1f} GFLOP/s (6 x params x tokens/s)")
    print(f"matmul peak       {result.peak_flops / 1e9:,.1f} GFLOP/s (measured, same run)")
    print(f"MFU               {result.mfu:.1%} of the measured matmul peak (baseline ratio)")
    for name, peak in DATASHEET_BF16_PEAK.items():
        if name in result.device:
            print(f"MFU (datasheet)   {result.model_flops / peak:.1%} of {peak / 1e12:.0f} TFLOP/s")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", default=DEFAULT_BASE, help=f"{', '.join(NAMED_BASES)} or a checkpoint directory"
    )
    parser.add_argument("--titles", type=Path, help="a Netflix CSV: train on its records")
    parser.add_argument(
        "--trim-vocab",
        action=argparse.BooleanOptionalAction,
        help="trim the vocabulary to the records' tokens (default: for large vocabularies)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps (first is warmup)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get("MODEL_DIR", ROOT / "data" / "models")),
        help="where the converted default base is kept (MODEL_DIR)",
    )
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be at least 2 (the first step is not timed)")

    if args.threads:
        torch.set_num_threads(args.threads)
    base_path = resolve_base(args.base, args.model_dir / "bases")
    devices = ["cuda", "cpu"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        print("CUDA: not available on this machine; CPU only.\n")
        devices.remove("cuda")
    for device_kind in devices:
        _print(measure(base_path, device_kind, args), args.base)


if __name__ == "__main__":
    main()
