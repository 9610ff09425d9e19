"""Fine-tune a causal LM on records in the format of generator.ml.format. Plain Python, no Django.

`train` runs the whole loop: held-out split, base-model eval loss, AdamW with warmup and cosine
decay, gradient accumulation, bf16 autocast on CUDA (fp32 on CPU), periodic eval, samples and
checkpoints, and resume from a checkpoint with its optimizer and scheduler state. Progress is
reported through `TrainingHooks`, so the Django side can record it without this module knowing.

A checkpoint is a directory `step-NNNNNN/` loadable with AutoModelForCausalLM.from_pretrained and
AutoTokenizer.from_pretrained; while a run is unfinished it also holds `training_state.pt`.
"""

from __future__ import annotations

import contextlib
import math
import random
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.ml.config import TrainingConfig
from generator.ml.format import END_TOKEN, SPECIAL_TOKENS, prompt_prefix

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

PAD_TOKEN = "<|pad|>"
TRAINING_STATE = "training_state.pt"
CHECKPOINT_PREFIX = "step-"
SAMPLE_PROMPTS = (prompt_prefix("movie"), prompt_prefix("tv"), prompt_prefix())
IGNORE_INDEX = -100


class DataError(ValueError):
    """Training data that cannot be trained on (too few records, nothing left after the split)."""


class TrainingInterrupted(Exception):
    """Training stopped on request (SIGTERM, Ctrl-C) after saving a checkpoint at `step`."""

    def __init__(self, step: int, checkpoint: Path | None, reason: str) -> None:
        super().__init__(f"interrupted ({reason}) after step {step}")
        self.step = step
        self.checkpoint = checkpoint
        self.reason = reason


@dataclass(frozen=True)
class TrainingStart:
    total_steps: int
    start_step: int
    train_records: int
    eval_records: int
    truncated_records: int
    parameters: int
    device: str


@dataclass(frozen=True)
class TrainingResult:
    step: int
    checkpoint: Path
    eval_loss: float | None
    base_eval_loss: float | None
    tokens_per_second: float


class TrainingHooks:
    """Override any of these to follow a run; each is called in the training thread."""

    def on_start(self, start: TrainingStart) -> None: ...

    def on_base_eval(self, loss: float) -> None: ...

    def on_step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None: ...

    def on_eval(self, step: int, loss: float) -> None: ...

    def on_samples(self, step: int, texts: list[str]) -> None: ...

    def on_checkpoint(self, step: int, path: Path) -> None: ...


class _AllHooks(TrainingHooks):
    def __init__(self, hooks: Sequence[TrainingHooks]) -> None:
        self._hooks = list(hooks)

    def on_start(self, start: TrainingStart) -> None:
        for hook in self._hooks:
            hook.on_start(start)

    def on_base_eval(self, loss: float) -> None:
        for hook in self._hooks:
            hook.on_base_eval(loss)

    def on_step(self, step: int, loss: float, tokens_per_second: float, lr: float) -> None:
        for hook in self._hooks:
            hook.on_step(step, loss, tokens_per_second, lr)

    def on_eval(self, step: int, loss: float) -> None:
        for hook in self._hooks:
            hook.on_eval(step, loss)

    def on_samples(self, step: int, texts: list[str]) -> None:
        for hook in self._hooks:
            hook.on_samples(step, texts)

    def on_checkpoint(self, step: int, path: Path) -> None:
        for hook in self._hooks:
            hook.on_checkpoint(step, path)


class StopSignal:
    """Set from a signal handler or another thread; the loop stops after the current step."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))


def split_records(
    records: Sequence[str], eval_fraction: float, seed: int, max_eval: int
) -> tuple[list[str], list[str]]:
    """(train, held-out eval) from a seeded shuffle, so a resumed run sees the same split."""
    if len(records) < 2:
        raise DataError(
            f"need at least 2 training records for a held-out split, got {len(records)}"
        )
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    eval_count = min(max_eval, len(records) - 1, max(1, round(len(records) * eval_fraction)))
    held_out = set(order[:eval_count])
    train = [record for index, record in enumerate(records) if index not in held_out]
    return train, [records[index] for index in sorted(held_out)]


def prepare_tokenizer_and_model(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> None:
    """Register the record markers as special tokens and a pad token that is not the end marker."""
    tokenizer.add_special_tokens(
        {"additional_special_tokens": list(SPECIAL_TOKENS)}, replace_extra_special_tokens=False
    )
    # Padding is masked out of the loss; were it the end marker, the end would never be learned.
    if tokenizer.pad_token is None or tokenizer.pad_token in SPECIAL_TOKENS:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    if model.get_input_embeddings().num_embeddings != len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    start_id, end_id = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    for config in (model.config, model.generation_config):
        config.bos_token_id = start_id
        config.eos_token_id = end_id
        config.pad_token_id = tokenizer.pad_token_id


def encode_records(
    tokenizer: PreTrainedTokenizerBase, records: Sequence[str], max_length: int
) -> tuple[list[list[int]], int]:
    """Token ids of each record (cut to max_length) and how many records were cut."""
    encoded = tokenizer(list(records), add_special_tokens=False)["input_ids"]
    truncated = sum(1 for ids in encoded if len(ids) > max_length)
    return [ids[:max_length] for ids in encoded], truncated


def pick_device(requested: str | None = None) -> tuple[torch.device, torch.dtype | None]:
    """CUDA with bf16 autocast when available (or asked for), else CPU in fp32 (dtype None)."""
    import torch

    device = torch.device(requested or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
        return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return device, None


def device_name(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"CPU, {threads} thread{'s' if threads != 1 else ''}"


def train(
    model_source: str | Path,
    records: Sequence[str],
    output_dir: Path,
    config: TrainingConfig,
    *,
    hooks: Sequence[TrainingHooks] = (),
    resume_from: Path | None = None,
    stop: StopSignal | None = None,
    show_progress: bool = True,
    device: str | None = None,
) -> TrainingResult:
    """Fine-tune `model_source` (a resolved base) on `records`; checkpoints go to `output_dir`.

    With `resume_from` (a checkpoint holding training_state.pt) the model, optimizer, scheduler
    and RNG continue from that step. `device` ("cpu", "cuda", "cuda:1") defaults to CUDA when
    available, else the CPU. Raises TrainingInterrupted once `stop` is requested.
    """
    import torch

    config.validate()
    report = _AllHooks(hooks)
    torch.manual_seed(config.seed)
    session = _Session(resume_from or model_source, config, output_dir, device)
    data = _EncodedData(session.tokenizer, records, config)
    total_steps = config.total_steps(len(data.train_ids))
    session.build_optimizer(total_steps)
    start_step = session.restore(resume_from) if resume_from else 0
    report.on_start(session.describe(data, total_steps, start_step))
    base_eval_loss = None
    if start_step == 0:
        base_eval_loss = session.evaluate(data.eval_ids)
        report.on_base_eval(base_eval_loss)
    loop = _Loop(session, data, report, stop or StopSignal(), total_steps)
    loop.run(start_step, resume_from if start_step else None, show_progress)
    assert loop.checkpoint is not None  # the last step always saves
    return TrainingResult(
        step=total_steps,
        checkpoint=loop.checkpoint,
        eval_loss=loop.eval_loss,
        base_eval_loss=base_eval_loss,
        tokens_per_second=loop.tokens_per_second,
    )


class _EncodedData:
    """The held-out split of the records, tokenised and cut to max_length."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, records: Sequence[str], config: TrainingConfig
    ) -> None:
        train_texts, eval_texts = split_records(
            records, config.eval_fraction, config.seed, config.max_eval_records
        )
        self.train_ids, self.truncated = encode_records(tokenizer, train_texts, config.max_length)
        self.eval_ids, _ = encode_records(tokenizer, eval_texts, config.max_length)
        self.batches = _BatchOrder(len(self.train_ids), config.batch_size, config.seed)


class _Session:
    """The model, tokenizer, optimizer and scheduler of one training process, on one device."""

    def __init__(
        self, source: str | Path, config: TrainingConfig, output_dir: Path, device: str | None
    ) -> None:
        from generator.ml.bases import load_pretrained

        self.config = config
        self.output_dir = output_dir
        self.device, autocast_dtype = pick_device(device)
        self.autocast = _autocast_factory(self.device, autocast_dtype)
        self.model, self.tokenizer = load_pretrained(str(source))
        prepare_tokenizer_and_model(self.tokenizer, self.model)
        self.model.to(self.device)
        self.pad_id: int = self.tokenizer.pad_token_id

    def build_optimizer(self, total_steps: int) -> None:
        self.optimizer = _optimizer(self.model, self.config)
        self.scheduler = _scheduler(self.optimizer, self.config.warmup, total_steps)

    def restore(self, checkpoint: Path) -> int:
        """Optimizer, scheduler and RNG state saved with `checkpoint`; its step (0 without)."""
        import torch

        if not (checkpoint / TRAINING_STATE).is_file():
            return 0
        state = torch.load(checkpoint / TRAINING_STATE, map_location="cpu", weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        return int(state["step"])

    def describe(self, data: _EncodedData, total_steps: int, start_step: int) -> TrainingStart:
        return TrainingStart(
            total_steps=total_steps,
            start_step=start_step,
            train_records=len(data.train_ids),
            eval_records=len(data.eval_ids),
            truncated_records=data.truncated,
            parameters=sum(p.numel() for p in self.model.parameters()),
            device=device_name(self.device),
        )

    def optimizer_step(self, data: _EncodedData, step: int) -> tuple[float, int]:
        """One optimizer step over grad_accum micro-batches: (mean loss, real tokens seen)."""
        import torch

        accumulate = self.config.grad_accum
        self.model.train()
        total_loss, tokens = 0.0, 0
        for index in range(accumulate):
            rows = data.batches.indices((step - 1) * accumulate + index)
            batch = _collate([data.train_ids[row] for row in rows], self.pad_id, self.device)
            with self.autocast():
                loss = self.model(**batch, use_cache=False).loss / accumulate
            loss.backward()
            total_loss += loss.item()
            tokens += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return total_loss, tokens

    def evaluate(self, eval_ids: Sequence[Sequence[int]]) -> float:
        batch_size = self.config.batch_size
        return evaluate(self.model, eval_ids, self.pad_id, batch_size, self.device, self.autocast)

    def samples(self, step: int) -> list[str]:
        count, length, seed = self.config.num_samples, self.config.max_length, self.config.seed
        return generate_samples(self.model, self.tokenizer, count, length, seed + step)

    def save(self, step: int, keep_state: bool) -> Path:
        state = (self.optimizer, self.scheduler) if keep_state else None
        return _save(self.model, self.tokenizer, state, step, self.output_dir)


class _Loop:
    """Steps from the start step to total_steps, with eval, samples and checkpoints when due."""

    def __init__(
        self,
        session: _Session,
        data: _EncodedData,
        report: TrainingHooks,
        stop: StopSignal,
        total_steps: int,
    ) -> None:
        self.session, self.data, self.report, self.stop = session, data, report, stop
        self.total_steps = total_steps
        self.checkpoint: Path | None = None
        self.saved_step = 0
        self.eval_loss: float | None = None
        self.tokens, self.seconds = 0, 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def run(self, start_step: int, resumed_from: Path | None, show_progress: bool) -> None:
        self.checkpoint, self.saved_step = resumed_from, start_step
        with _progress_bar(self.total_steps, start_step, show_progress) as progress:
            for step in range(start_step + 1, self.total_steps + 1):
                if self.stop.is_set():
                    self._stop_after(step - 1)
                loss = self._step(step)
                progress.update(1)
                progress.set_postfix(loss=f"{loss:.3f}", tok_s=f"{self.tokens_per_second:.0f}")
                self._after_step(step)
        if self.checkpoint is None:  # resumed with nothing left to do
            self._save(self.total_steps, keep_state=False)

    def _step(self, step: int) -> float:
        began = time.perf_counter()
        loss, tokens = self.session.optimizer_step(self.data, step)
        self.seconds += time.perf_counter() - began
        self.tokens += tokens
        lr = self.session.scheduler.get_last_lr()[0]
        self.report.on_step(step, loss, self.tokens_per_second, lr)
        return loss

    def _after_step(self, step: int) -> None:
        config, last = self.session.config, step == self.total_steps
        if _due(step, config.eval_every, last):
            self.eval_loss = self.session.evaluate(self.data.eval_ids)
            self.report.on_eval(step, self.eval_loss)
        if _due(step, config.sample_every, last):
            self.report.on_samples(step, self.session.samples(step))
        if _due(step, config.save_every, last):
            # A finished run has nothing to resume: its last checkpoint skips the optimizer state.
            self._save(step, keep_state=not last)

    def _save(self, step: int, keep_state: bool) -> None:
        self.checkpoint = self.session.save(step, keep_state)
        self.saved_step = step
        self.report.on_checkpoint(step, self.checkpoint)

    def _stop_after(self, step: int) -> None:
        if self.saved_step < step:
            self._save(step, keep_state=True)
        raise TrainingInterrupted(step, self.checkpoint, self.stop.reason or "stop requested")


def _due(step: int, every: int, last: bool) -> bool:
    return last or (every > 0 and step % every == 0)


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="step",
        desc="fine-tune",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def _optimizer(model: PreTrainedModel, config: TrainingConfig) -> torch.optim.Optimizer:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    # Norm weights and biases are not decayed: shrinking them only hurts.
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95), eps=1e-8)


def _scheduler(
    optimizer: torch.optim.Optimizer, warmup: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    import torch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _autocast_factory(device: torch.device, dtype: torch.dtype | None) -> Any:
    import torch

    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


class _BatchOrder:
    """Which records form each micro-batch: a fresh seeded permutation per epoch, so the order
    depends only on (seed, micro-batch index) and a resumed run continues where it stopped."""

    def __init__(self, size: int, batch_size: int, seed: int) -> None:
        self._size = size
        self._batch_size = batch_size
        self._seed = seed
        self._permutations: dict[int, list[int]] = {}

    def indices(self, micro_batch: int) -> list[int]:
        first = micro_batch * self._batch_size
        return [self._at(position) for position in range(first, first + self._batch_size)]

    def _at(self, position: int) -> int:
        epoch, offset = divmod(position, self._size)
        if epoch not in self._permutations:
            order = list(range(self._size))
            random.Random(self._seed * 1_000_003 + epoch).shuffle(order)
            self._permutations = {epoch: order}
        return self._permutations[epoch][offset]


def _collate(
    sequences: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> dict[str, torch.Tensor]:
    import torch

    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention[row, : len(ids)] = 1
    labels = input_ids.masked_fill(attention == 0, IGNORE_INDEX)
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": attention.to(device),
        "labels": labels.to(device),
    }


def evaluate(
    model: PreTrainedModel,
    eval_ids: Sequence[Sequence[int]],
    pad_id: int,
    batch_size: int,
    device: torch.device,
    autocast: Any = contextlib.nullcontext,
) -> float:
    """Mean next-token loss over every predicted token of the held-out records."""
    import torch

    model.eval()
    loss_sum, token_count = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(eval_ids), batch_size):
            batch = _collate(eval_ids[first : first + batch_size], pad_id, device)
            with autocast():
                loss = model(**batch, use_cache=False).loss
            predicted = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
            loss_sum += loss.float().item() * predicted
            token_count += predicted
    return loss_sum / max(token_count, 1)


def generate_samples(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    count: int,
    max_length: int,
    seed: int,
) -> list[str]:
    """`count` sampled records, markers included, from the SAMPLE_PROMPTS in turn."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    end_id = tokenizer.convert_tokens_to_ids(END_TOKEN)
    texts = []
    # Sampling must not move the training RNG, or a resumed run would diverge from an unbroken one.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for index in range(count):
            prompt = SAMPLE_PROMPTS[index % len(SAMPLE_PROMPTS)]
            input_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
            with torch.no_grad():
                output = model.generate(
                    input_ids.to(device),
                    attention_mask=torch.ones_like(input_ids).to(device),
                    do_sample=True,
                    temperature=0.8,
                    top_p=0.95,
                    max_new_tokens=max(1, max_length - input_ids.shape[1]),
                    eos_token_id=end_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
            texts.append(_decode_record(tokenizer, output[0].tolist()))
    return texts


def _decode_record(tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> str:
    """The record text with its start and end markers, without padding or other specials."""
    keep = {tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    pieces: list[str] = []
    current: list[int] = []
    for token_id in ids:
        if token_id in keep:
            pieces.append(tokenizer.decode(current, skip_special_tokens=True))
            pieces.append(tokenizer.convert_ids_to_tokens(token_id))
            current = []
        elif token_id != tokenizer.pad_token_id:
            current.append(token_id)
    pieces.append(tokenizer.decode(current, skip_special_tokens=True))
    text = "".join(pieces)
    return text[: text.index(END_TOKEN) + len(END_TOKEN)] if END_TOKEN in text else text


def checkpoints(output_dir: Path) -> list[Path]:
    """Finished checkpoints in `output_dir`, oldest first."""
    if not output_dir.is_dir():
        return []
    return sorted(
        path
        for path in output_dir.iterdir()
        if path.is_dir() and path.name.startswith(CHECKPOINT_PREFIX)
    )


def _save(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    state: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR] | None,
    step: int,
    output_dir: Path,
) -> Path:
    """Write `step-NNNNNN/` atomically, then delete the older checkpoints it supersedes.

    `state` (optimizer, scheduler) is saved with the RNG for a resume; None for a final one.
    """
    import torch

    target = output_dir / f"{CHECKPOINT_PREFIX}{step:06d}"
    staging = output_dir / f".{target.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if state is not None:
        optimizer, scheduler = state
        training_state = {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        torch.save(training_state, staging / TRAINING_STATE)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    for older in checkpoints(output_dir):
        if older != target:
            shutil.rmtree(older, ignore_errors=True)
    return target
