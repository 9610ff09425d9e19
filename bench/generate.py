"""Generation throughput: the batched sampler against a naive one-sample-per-call baseline.

    .venv/bin/python bench/generate.py [--checkpoint DIR] [--samples 64] [--max-new-tokens 64]
        [--titles netflix_titles.csv]

Both sides use the same model, prompt and sampling settings on the same device. The baseline is
transformers' pipeline("text-generation") producing one sample per call; ours is
generator.ml.sampling.Sampler with the batch size picked for the device. Without --checkpoint the
default base (SmolLM2-135M-Instruct, converted from its GGUF once) gets the record markers
added, so it runs the real code path; only a fine-tuned checkpoint writes records that pass
the filters. With --titles, the batched sampler runs again steering clear of those real titles
(generator.ml.title_guard, as production samples), and the guard's cost is printed as a ratio.

`--production` measures what the site runs instead: the site's sampling settings
(SamplingSettings.from_settings: its temperatures, min-p, new-token cap and, with --titles, the
real-title guard) three ways: sampler version 1 (transformers' generate) at the batch size the
site used before (16 on a CPU), version 1 at the size Sampler.measure_batch_size picks for it,
and version 2 (the own loop, generator.ml.decoding) at the size measured for it. For each it
prints descriptions/s, new tokens/s, served texts/s (those passing the filters, times
GENERATION_KEEP_SHARE) against the first, and generation MFU: 2 x (non-embedding parameters +
output rows x hidden size) FLOPs per new token, against the dense matmul peak measured in the same
run (bench/finetune.py's matmul_peak; measured at the start and again before each run, and the
highest taken, so that a neighbour's load during one measure does not inflate MFU). A
torch.profiler pass over one batch of each version says where its time goes, operator by
operator, and what is left to Python and the loop.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "site")]

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline  # noqa: E402

from generator.ml.config import (  # noqa: E402
    GENERATE_SAMPLER,
    OWN_LOOP_SAMPLER,
    SAMPLER_VERSIONS,
    SamplingSettings,
)
from generator.ml.dataset import read_titles  # noqa: E402
from generator.ml.filters import screen  # noqa: E402
from generator.ml.format import SPECIAL_TOKENS, prompt_prefix  # noqa: E402
from generator.ml.overfit import Detector  # noqa: E402
from generator.ml.sampling import DTYPES, Sampler, sampling_dtype  # noqa: E402


def _default_checkpoint(workdir: Path) -> Path:
    """The default base with the record markers registered, saved like a fine-tuned checkpoint."""
    from generator.ml.bases import DEFAULT_BASE, resolve_base

    base = resolve_base(DEFAULT_BASE, ROOT / "data" / "models" / "bases")
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    model.resize_token_embeddings(len(tokenizer))
    destination = workdir / "base-with-markers"
    model.save_pretrained(destination)
    tokenizer.save_pretrained(destination)
    return destination


def _baseline(
    sampler: Sampler, prefix: str, settings: SamplingSettings, count: int
) -> tuple[int, int, float]:
    generate = pipeline(
        "text-generation", model=sampler.model, tokenizer=sampler.tokenizer, device=sampler.device
    )
    tokens = 0
    start = time.perf_counter()
    for index in range(count):
        torch.manual_seed(settings.seed + index)
        output = generate(
            prefix,
            **settings.generate_kwargs(),
            eos_token_id=sampler.end_id,
            pad_token_id=sampler.pad_id,
            return_full_text=False,
        )
        tokens += len(sampler.tokenizer.encode(output[0]["generated_text"]))
    return count, tokens, time.perf_counter() - start


def _batched(
    sampler: Sampler,
    prefix: str,
    settings: SamplingSettings,
    count: int,
    real_titles: Detector | None = None,
) -> tuple[int, int, float, int, int]:
    size = sampler.auto_batch_size()
    samples, tokens, accepted = 0, 0, 0
    start = time.perf_counter()
    batch_index = 0
    while samples < count:
        batch = sampler.generate(
            prefix,
            size,
            replace(settings, seed=settings.seed + batch_index),
            is_real_title=real_titles.has_title if real_titles else None,
        )
        samples += len(batch)
        tokens += sum(sample.new_tokens for sample in batch)
        accepted += len(screen(batch).accepted)
        batch_index += 1
    return samples, tokens, time.perf_counter() - start, size, accepted


def flops_per_token(model: torch.nn.Module) -> float:
    """A decoder step's FLOPs per new token: 2 x (non-embedding parameters + the output layer)."""
    embedding = model.get_input_embeddings().weight  # type: ignore[operator]
    head = model.get_output_embeddings().weight  # type: ignore[operator]
    total = sum(parameter.numel() for parameter in model.parameters())
    non_embedding = total - embedding.numel()
    if head.data_ptr() != embedding.data_ptr():
        non_embedding -= head.numel()  # counted below, as the output layer
    return 2.0 * (non_embedding + head.numel())


VERSION_NAMES = {GENERATE_SAMPLER: "transformers' generate", OWN_LOOP_SAMPLER: "own loop"}


def production(sampler: Sampler, args: argparse.Namespace) -> None:
    """The site's own sampling, its throughput, MFU and where a step's time goes (see the
    module's docstring)."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings as site

    from bench.finetune import matmul_peak
    from generator.ml.config import CPU_BATCH_SIZE, temperature_range

    real_titles = Detector.from_records(read_titles(args.titles)) if args.titles else None
    low, high = temperature_range(site)
    prefix = prompt_prefix(None)
    warm_up = SamplingSettings.from_settings(site, temperature=low, seed=1)
    samplers = {sampler.dtype: sampler}
    site_dtype = sampling_dtype(sampler.device, site.GENERATION_DTYPE)
    if site_dtype not in samplers:
        samplers[site_dtype] = Sampler(sampler.checkpoint, sampler.device.type, site_dtype)
    for each in samplers.values():
        each.generate(prefix, 2, replace(warm_up, avoid_real_titles=False))
    fixed = CPU_BATCH_SIZE if sampler.device.type == "cpu" else sampler.auto_batch_size()
    per_token = flops_per_token(sampler.model)
    print(
        f"production sampling (temperature {low}-{high}, min-p {site.GENERATION_MIN_P}, "
        f"{site.GENERATION_MAX_NEW_TOKENS} new tokens, real-title guard "
        f"{'on' if real_titles else 'off'}; GENERATION_DTYPE {site.GENERATION_DTYPE}: {site_dtype})"
    )
    peaks: dict[str, list[float]] = {}
    for dtype in samplers:
        peaks[dtype] = [matmul_peak(sampler.device, DTYPES[dtype])]
        print(
            f"  {per_token / 1e9:.3f} GFLOP per new token; {dtype} matmul peak "
            f"{peaks[dtype][0] / 1e9:,.1f} GFLOP/s (measured now): limit "
            f"{peaks[dtype][0] / per_token:,.0f} tokens/s"
        )
    runs = [(sampler, GENERATE_SAMPLER, fixed, "the size used before")]
    for each in samplers.values():
        for version in SAMPLER_VERSIONS if each is sampler else (OWN_LOOP_SAMPLER,):
            measured = each.measure_batch_size(prefix, replace(warm_up, sampler_version=version))
            rates = ", ".join(f"{size}: {rate:.0f}" for size, rate in measured.rates.items())
            print(
                f"  sampler {version}, {each.dtype}: new tokens/s by batch size ({rates}): "
                f"picked {measured.best}"
            )
            runs.append((each, version, measured.best, "its measured size"))
    served_rates, token_rates = [], []
    for each, version, size, which in runs:
        peaks[each.dtype].append(matmul_peak(sampler.device, DTYPES[each.dtype]))
        samples, tokens, accepted, seconds = _production_batches(
            each, prefix, size, max(args.samples, 2 * size), site, real_titles, version
        )
        served = accepted * site.GENERATION_KEEP_SHARE / seconds
        served_rates.append(served)
        token_rates.append(tokens / seconds)
        print(f"  sampler {version} ({VERSION_NAMES[version]}), {each.dtype}, {which}: {size} rows")
        print(f"    {samples / seconds:8.2f} descriptions/s, {tokens / seconds:8.1f} new tokens/s")
        print(
            f"    {served:8.2f} served texts/s at most ({accepted} of {samples} pass the screen, "
            f"times the kept share {site.GENERATION_KEEP_SHARE}): "
            f"{served / served_rates[0]:.2f}x the first"
        )
    for dtype, seen in peaks.items():
        print(
            f"  {dtype} matmul peak: the highest of {len(seen)} measures in this run, "
            f"{max(seen) / 1e9:,.1f} GFLOP/s (lowest {min(seen) / 1e9:,.1f})"
        )
    for (each, version, size, _which), rate in zip(runs, token_rates, strict=True):
        print(
            f"  sampler {version}, {each.dtype}, {size} rows: generation MFU "
            f"{rate * per_token / max(peaks[each.dtype]):.1%} of the highest {each.dtype} peak"
        )
    for each, version, size, _which in runs[1:]:
        _profile(
            each,
            prefix,
            size,
            SamplingSettings.from_settings(site, temperature=low, seed=3),
            version,
        )


def _production_batches(
    sampler: Sampler,
    prefix: str,
    size: int,
    count: int,
    site: object,
    real_titles: Detector | None,
    version: int,
) -> tuple[int, int, int, float]:
    """Batches of `size` at production settings until `count` samples: (samples, new tokens,
    passed the screen, seconds)."""
    import random

    from generator.ml.config import temperature_range

    low, high = temperature_range(site)
    rng = random.Random(7)
    samples = tokens = accepted = 0
    started = time.perf_counter()
    while samples < count:
        drawn = SamplingSettings.from_settings(
            site, temperature=round(rng.uniform(low, high), 3), seed=rng.randrange(2**62)
        )
        drawn = replace(drawn, sampler_version=version)
        if real_titles is None:
            drawn = replace(drawn, avoid_real_titles=False)
        batch = sampler.generate(
            prefix, size, drawn, is_real_title=real_titles.has_title if real_titles else None
        )
        samples += len(batch)
        tokens += sum(sample.new_tokens for sample in batch)
        accepted += len(screen(batch).accepted)
    return samples, tokens, accepted, time.perf_counter() - started


def _profile(
    sampler: Sampler, prefix: str, size: int, settings: SamplingSettings, version: int
) -> None:
    from torch.profiler import ProfilerActivity, profile

    settings = replace(settings, avoid_real_titles=False, sampler_version=version)
    with profile(activities=[ProfilerActivity.CPU]) as trace:
        started = time.perf_counter()
        sampler.generate(prefix, size, settings)
        wall = time.perf_counter() - started
    operators = sorted(
        # mkldnn:: holds the products of packed bfloat16 weights (generator.ml.packed_linear).
        (event for event in trace.key_averages() if event.key.startswith(("aten::", "mkldnn::"))),
        key=lambda event: event.self_cpu_time_total,
        reverse=True,
    )
    tensor_work = sum(event.self_cpu_time_total for event in operators) / 1e6
    print(
        f"  sampler {version}, {sampler.dtype}: where one batch of {size}'s {wall:.2f} s go "
        "(torch.profiler, "
        "its own cost included; an operator's own time, not its callees'):"
    )
    for event in operators[:8]:
        print(f"    {event.self_cpu_time_total / 1e6 / wall:6.1%}  {event.key}")
    others = tensor_work - sum(event.self_cpu_time_total for event in operators[:8]) / 1e6
    print(f"    {others / wall:6.1%}  other tensor operators")
    print(f"    {max(wall - tensor_work, 0.0) / wall:6.1%}  Python and the loop's bookkeeping")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a fine-tuned run's checkpoint directory")
    parser.add_argument("--samples", type=int, default=64, help="samples per side")
    parser.add_argument("--baseline-samples", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--device", choices=["cpu", "cuda"])
    parser.add_argument("--titles", type=Path, help="a titles CSV: also time the real-title guard")
    parser.add_argument(
        "--production", action="store_true", help="the site's sampling, its MFU and a profile"
    )
    args = parser.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as workdir:
        checkpoint = args.checkpoint or _default_checkpoint(Path(workdir))
        sampler = Sampler(checkpoint, device=args.device)
        device_name = (
            torch.cuda.get_device_name(sampler.device)
            if sampler.device.type == "cuda"
            else f"CPU ({torch.get_num_threads()} threads)"
        )
        if args.production:
            print(f"device: {device_name}; checkpoint: {checkpoint}")
            production(sampler, args)
            return
        prefix = prompt_prefix("movie")
        settings = SamplingSettings(temperature=0.9, max_new_tokens=args.max_new_tokens, seed=7)
        sampler.generate(prefix, 2, settings)  # warm-up: first-call allocations and caches

        base_n, base_tokens, base_s = _baseline(sampler, prefix, settings, args.baseline_samples)
        ours_n, ours_tokens, ours_s, size, accepted = _batched(
            sampler, prefix, settings, args.samples
        )
        guarded = None
        if args.titles:
            detector = Detector.from_records(read_titles(args.titles))
            guarded_settings = replace(settings, avoid_real_titles=True)
            guarded = _batched(sampler, prefix, guarded_settings, args.samples, detector)

    base_rate, ours_rate = base_n / base_s, ours_n / ours_s
    print(f"device: {device_name}; checkpoint: {checkpoint}")
    print(f"max_new_tokens={args.max_new_tokens}, batch size picked: {size}")
    print(
        f"baseline pipeline(), 1 per call: {base_rate:8.2f} descriptions/s "
        f"{base_tokens / base_s:9.1f} tokens/s ({base_n} samples, {base_s:.1f} s)"
    )
    print(
        f"batched sampler:                 {ours_rate:8.2f} descriptions/s "
        f"{ours_tokens / ours_s:9.1f} tokens/s ({ours_n} samples, {ours_s:.1f} s)"
    )
    print(f"passed the quality filters: {accepted} of {ours_n}")
    print(f"ratio (batched / baseline descriptions/s): {ours_rate / base_rate:.2f}x")
    if guarded is not None:
        guarded_n, _tokens, guarded_s, _size, _accepted = guarded
        guarded_rate = guarded_n / guarded_s
        print(
            f"steering clear of real titles:   {guarded_rate:8.2f} descriptions/s "
            f"({guarded_n} samples, {guarded_s:.1f} s); "
            f"ratio (guarded / unguarded): {guarded_rate / ours_rate:.2f}x"
        )


if __name__ == "__main__":
    main()
