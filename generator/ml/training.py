"""Fine-tune a causal LM on records in the format of generator.ml.format. Plain Python, no Django.

`train` (or `FineTune(...).run()`) sets up transformers' Trainer: a seeded held-out split, the
base model's eval loss before the first step, AdamW (betas 0.9/0.95) with warmup and a cosine decay
to 10% of the peak, gradient accumulation, bf16 on CUDA (fp32 on CPU), eval, samples and rotated
checkpoints every N steps, and resume with optimizer, scheduler, RNG and data position restored.
Progress reaches the caller through standard TrainerCallbacks; samples arrive in `on_log` as
`logs["samples"]`, tokens/s beside the training loss as `logs["tokens_per_second"]`. Under
`torchrun`/`accelerate launch` Trainer runs DDP; this module needs nothing more for it.

Checkpoints are Trainer's `checkpoint-N/` (see generator.ml.checkpoints); a finished run leaves
`final/`, loadable with AutoModelForCausalLM.from_pretrained and AutoTokenizer.from_pretrained.
Its weights are those of the lowest held-out eval loss: `patience` evals in a row without a lower
one stop the run early, and so does the `max_minutes` budget; either way it finishes as done. A
large vocabulary (Gemma 3's 262k tokens) is first trimmed to the corpus's tokens
(generator.ml.vocab), so the saved tokenizer and model are small and self-consistent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import (
    DataCollatorForLanguageModeling,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.trainer_callback import ExportableState

from generator.ml.bases import load_pretrained
from generator.ml.checkpoints import (
    CHECKPOINT_PREFIX,
    FINAL_CHECKPOINT,
    RESUME_STATE,
)
from generator.ml.config import TrainingConfig
from generator.ml.format import END_TOKEN, SPECIAL_TOKENS, prompt_prefix
from generator.ml.splits import split_records
from generator.ml.text import printable
from generator.ml.vocab import TrimmedVocabulary, should_trim, trim_vocabulary, vocabulary_rows

PAD_TOKEN = "<|pad|>"
SAMPLE_PROMPTS = (prompt_prefix("movie"), prompt_prefix("tv"), prompt_prefix())
# The cosine decay ends at this share of the peak learning rate, not at zero.
MIN_LR_RATE = 0.1
ADAM_BETAS = (0.9, 0.95)
# Inside a checkpoint-N/ whose own weights are not the best so far: the best weights, for a resume.
BEST_WEIGHTS = "best-model.safetensors"


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
    vocabulary: TrimmedVocabulary | None = None  # None: the base's vocabulary, untrimmed


@dataclass(frozen=True)
class TrainingResult:
    step: int
    checkpoint: Path
    eval_loss: float | None  # of the saved (best) weights
    base_eval_loss: float | None
    tokens_per_second: float
    best_step: int | None = None  # the step whose weights were saved; None: never evaluated
    stop_reason: str = ""  # why training stopped before its last step; "" when it ran them all


class StopSignal:
    """Set from a signal handler or another thread; training stops after the current step."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


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
    start_id, end_id = (tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS)
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


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"CPU, {threads} thread{'s' if threads != 1 else ''}"


class FineTune:
    """One fine-tune on Trainer, set up and described (`start`) before `run` trains it.

    `resume_from` is a `checkpoint-N` directory: Trainer restores the weights, optimizer,
    scheduler and CPU/CUDA RNG from it and skips the batches already seen. `device` "cpu" forces
    the CPU; otherwise CUDA is used when available. `run` raises TrainingInterrupted once `stop`
    is requested, after saving a checkpoint of the step just finished.
    """

    def __init__(
        self,
        model_source: str | Path,
        records: Sequence[str],
        output_dir: Path,
        config: TrainingConfig,
        *,
        callbacks: Sequence[TrainerCallback] = (),
        resume_from: Path | None = None,
        stop: StopSignal | None = None,
        show_progress: bool = True,
        device: str | None = None,
    ) -> None:
        config.validate()
        self.config, self.output_dir, self.resume_from = config, output_dir, resume_from
        self.stop = stop or StopSignal()
        self.model, self.tokenizer = load_pretrained(str(model_source))
        prepare_tokenizer_and_model(self.tokenizer, self.model)
        vocabulary = None
        # A resumed run's checkpoint already holds the trimmed vocabulary it started with.
        if resume_from is None and should_trim(config.trim_vocab, vocabulary_rows(self.model)):
            keep = [*SPECIAL_TOKENS, str(self.tokenizer.pad_token)]
            self.tokenizer, vocabulary = trim_vocabulary(self.model, self.tokenizer, records, keep)
        self.tokenizer.padding_side = "right"
        train_texts, eval_texts = split_records(
            records, config.eval_fraction, config.seed, config.max_eval_records
        )
        train_ids, truncated = encode_records(self.tokenizer, train_texts, config.max_length)
        eval_ids, _ = encode_records(self.tokenizer, eval_texts, config.max_length)
        args = _arguments(config, output_dir, len(train_ids), show_progress, device)
        self.throughput = _Throughput()
        self.flow = _Flow(self.stop)
        self.best = _BestModel(config.patience)
        self.budget = _Budget(config.max_minutes)
        if resume_from is not None:
            self._restore_progress(resume_from)
        self.trainer = Trainer(
            model=self.model,
            args=args,
            train_dataset=[{"input_ids": ids} for ids in train_ids],
            eval_dataset=[{"input_ids": ids} for ids in eval_ids],
            processing_class=self.tokenizer,
            # Labels are the inputs with padding masked; the pad id is never the end marker.
            data_collator=DataCollatorForLanguageModeling(self.tokenizer, mlm=False),
            callbacks=[
                self.throughput,
                *callbacks,
                self.best,
                self.budget,
                _Samples(config, self._log),
                self.flow,
            ],
        )
        # Trainer prints every log as a line (PrinterCallback) or on the bar; ours is quieter.
        self.trainer.remove_callback(PrinterCallback)
        self.trainer.remove_callback(ProgressCallback)
        if show_progress:
            self.trainer.add_callback(_ProgressBar())
        self.start = TrainingStart(
            total_steps=args.max_steps,
            start_step=_checkpoint_step(resume_from),
            train_records=len(train_ids),
            eval_records=len(eval_ids),
            truncated_records=truncated,
            parameters=sum(p.numel() for p in self.model.parameters()),
            device=device_name(args.device),
            vocabulary=vocabulary,
        )

    def _log(self, logs: dict[str, Any]) -> None:
        self.trainer.log(logs)

    def _restore_progress(self, checkpoint: Path) -> None:
        """The best-so-far, patience and budget counters as `checkpoint` saved them."""
        saved = TrainerState.load_from_json(str(checkpoint / RESUME_STATE)).stateful_callbacks or {}
        for callback in (self.best, self.budget):
            attributes = saved.get(type(callback).__name__, {}).get("attributes", {})
            for name, value in attributes.items():
                setattr(callback, name, value)
        step = _checkpoint_step(checkpoint)
        if self.best.best_step == step:
            self.best.remember(self.model)
        elif (checkpoint / BEST_WEIGHTS).is_file():
            self.best.weights = load_file(str(checkpoint / BEST_WEIGHTS))
        elif self.best.best_step is not None:
            # Only a crash between Trainer's save and ours leaves no best weights: start afresh.
            self.best.forget()

    def run(self) -> TrainingResult:
        self.budget.start()
        base_eval_loss = None
        if self.resume_from is None:
            # Reported to callbacks as an evaluation at global step 0.
            base_eval_loss = self.trainer.evaluate()["eval_loss"]
        resume = str(self.resume_from) if self.resume_from else None
        self.trainer.train(resume_from_checkpoint=resume)
        step = self.trainer.state.global_step
        if self.flow.stopped:
            checkpoint = self.output_dir / f"{CHECKPOINT_PREFIX}{step}"
            raise TrainingInterrupted(step, checkpoint, self.stop.reason or "stop requested")
        eval_loss = self.flow.eval_loss
        if self.best.weights is not None and self.best.best_step != step:
            self.best.restore(self.model)
            eval_loss = self.best.best_loss
        if step < self.trainer.state.max_steps or self.best.best_step != step:
            # The last samples logged came from other weights than the ones saved.
            self._log_final_samples(step)
        final = self.output_dir / FINAL_CHECKPOINT
        self.trainer.save_model(str(final))
        self.trainer.accelerator.wait_for_everyone()
        # The resume checkpoints stay until the caller has recorded final/ (discard_checkpoints).
        return TrainingResult(
            step=step,
            checkpoint=final,
            eval_loss=eval_loss,
            base_eval_loss=base_eval_loss,
            tokens_per_second=self.throughput.tokens_per_second,
            best_step=self.best.best_step,
            stop_reason=self.best.stop_reason or self.budget.stop_reason,
        )

    def _log_final_samples(self, step: int) -> None:
        if not self.trainer.is_world_process_zero():
            return
        config = self.config
        texts = generate_samples(
            self.model, self.tokenizer, config.num_samples, config.max_length, config.seed + step
        )
        self._log({"samples": texts})


def _arguments(
    config: TrainingConfig,
    output_dir: Path,
    train_records: int,
    show_progress: bool,
    device: str | None,
) -> TrainingArguments:
    use_cpu = device == "cpu" or not torch.cuda.is_available()
    if not use_cpu:
        torch.set_float32_matmul_precision("high")
    # Under torchrun each of WORLD_SIZE processes sees its share of the records per epoch.
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    total_steps = config.total_steps(-(-train_records // world_size))
    return TrainingArguments(
        output_dir=str(output_dir),
        use_cpu=use_cpu,
        bf16=not use_cpu and torch.cuda.is_bf16_supported(),
        max_steps=total_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": MIN_LR_RATE},
        warmup_steps=config.warmup,
        adam_beta1=ADAM_BETAS[0],
        adam_beta2=ADAM_BETAS[1],
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        # 0 means "only at the end": an interval of the whole run.
        eval_strategy="steps",
        eval_steps=config.eval_every or total_steps,
        save_strategy="steps",
        save_steps=config.save_every or total_steps,
        save_total_limit=1,
        logging_strategy="steps",
        logging_steps=1,
        seed=config.seed,
        data_seed=config.seed,
        prediction_loss_only=True,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=not show_progress,
    )


def _checkpoint_step(path: Path | None) -> int:
    if path is None:
        return 0
    state = TrainerState.load_from_json(str(path / RESUME_STATE))
    return state.global_step


def _due(step: int, every: int, max_steps: int) -> bool:
    return step >= max_steps or (every > 0 and step % every == 0)


class _Throughput(TrainerCallback):
    """Non-padding tokens per second of the optimizer steps alone (no eval, samples or saves)."""

    def __init__(self) -> None:
        self.tokens, self.seconds = 0, 0.0
        self._began, self._tokens_before = 0.0, 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._began, self._tokens_before = time.perf_counter(), state.num_input_tokens_seen

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if args.device.type == "cuda":
            torch.cuda.synchronize(args.device)
        self.seconds += time.perf_counter() - self._began
        self.tokens += state.num_input_tokens_seen - self._tokens_before

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if logs is not None and "loss" in logs:
            logs["tokens_per_second"] = self.tokens_per_second


class _Samples(TrainerCallback):
    """Every sample_every steps (and at the end) the main process logs `samples`."""

    def __init__(self, config: TrainingConfig, log: Callable[[dict[str, Any]], None]) -> None:
        self.config, self.log = config, log

    def on_step_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: PreTrainedModel | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or model is None or processing_class is None:
            return
        if _due(state.global_step, self.config.sample_every, state.max_steps):
            count, length = self.config.num_samples, self.config.max_length
            seed = self.config.seed + state.global_step
            texts = generate_samples(model, processing_class, count, length, seed)
            # Logging clears should_log, which would drop this step's loss from the log.
            should_log = control.should_log
            self.log({"samples": texts})
            control.should_log = should_log


class _BestModel(TrainerCallback, ExportableState):
    """Keeps the weights of the lowest eval loss; `patience` evals without a lower one stop it.

    The weights live in memory (on the CPU) and go into each checkpoint that is not itself the
    best, so a resumed run still ends with the best weights. Its counters are saved in Trainer's
    state as an ExportableState and restored by FineTune on resume.

    Not Trainer's EarlyStoppingCallback: it requires `load_best_model_at_end`, which needs a full
    checkpoint (weights and optimizer state) at every eval and misses the budget stop's last eval.
    """

    def __init__(self, patience: int = 0) -> None:
        self.patience = patience
        self.best_loss: float | None = None
        self.best_step: int | None = None
        self.evals_since_best = 0
        self.stop_reason = ""
        self.weights: dict[str, torch.Tensor] | None = None

    def state(self) -> dict[str, Any]:
        attributes = ("best_loss", "best_step", "evals_since_best", "stop_reason")
        return {
            "args": {"patience": self.patience},
            "attributes": {name: getattr(self, name) for name in attributes},
        }

    def remember(self, model: torch.nn.Module) -> None:
        # Tied weights (embedding and output layer) are one tensor: copy it once.
        copies: dict[int, torch.Tensor] = {}
        weights = {}
        for name, tensor in model.state_dict().items():
            if tensor.data_ptr() not in copies:
                copies[tensor.data_ptr()] = weights[name] = tensor.detach().to("cpu", copy=True)
        self.weights = weights

    def forget(self) -> None:
        self.best_loss, self.best_step, self.weights, self.evals_since_best = None, None, None, 0

    def restore(self, model: torch.nn.Module) -> None:
        assert self.weights is not None
        missing, unexpected = model.load_state_dict(self.weights, strict=False)
        # Only the second name of a tied tensor may be missing: it is the same tensor, loaded.
        shared = {name for name in model.state_dict() if name not in self.weights}
        if unexpected or set(missing) - shared:
            raise RuntimeError(f"best weights do not fit the model: {missing} {unexpected}")

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        model: PreTrainedModel | None = None,
        **kwargs: Any,
    ) -> None:
        if metrics is None or state.global_step == 0 or model is None:
            return  # step 0 is the base model, never the one to keep
        loss = metrics["eval_loss"]
        if self.best_loss is None or loss < self.best_loss:
            self.best_loss, self.best_step, self.evals_since_best = loss, state.global_step, 0
            self.remember(model)
            return
        self.evals_since_best += 1
        if self.patience and self.evals_since_best >= self.patience:
            self.stop_reason = (
                f"early stop at step {state.global_step}: eval loss not below "
                f"{self.best_loss:.4f} (step {self.best_step}) in {self.patience} evals"
            )
            if not control.should_training_stop:
                # A finished run saves final/ only; a stop request (SIGTERM) still checkpoints.
                control.should_save = False
            control.should_training_stop = True

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if not args.should_save or self.weights is None or self.best_step == state.global_step:
            return
        folder = Path(str(args.output_dir)) / f"{CHECKPOINT_PREFIX}{state.global_step}"
        save_file(self.weights, str(folder / f".{BEST_WEIGHTS}"))
        (folder / f".{BEST_WEIGHTS}").rename(folder / BEST_WEIGHTS)


class _Budget(TrainerCallback, ExportableState):
    """Stops training cleanly once `max_minutes` of wall-clock time (across resumes) are spent.

    Trainer bounds steps and epochs only; this budget survives resumes as an ExportableState.
    """

    def __init__(self, max_minutes: float | None = None) -> None:
        self.max_minutes = max_minutes
        self.spent_seconds = 0.0
        self.stop_reason = ""
        self._began: float | None = None

    def start(self) -> None:
        self._began = time.monotonic()

    def spent(self) -> float:
        running = time.monotonic() - self._began if self._began is not None else 0.0
        return self.spent_seconds + running

    def state(self) -> dict[str, Any]:
        return {
            "args": {"max_minutes": self.max_minutes},
            "attributes": {"spent_seconds": self.spent(), "stop_reason": self.stop_reason},
        }

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if not self.max_minutes or state.global_step >= state.max_steps:
            return
        # Every DDP rank must decide together, or one would wait for the others forever.
        if _on_any_process(self.spent() >= self.max_minutes * 60, args):
            self.stop_reason = (
                f"time budget of {self.max_minutes:g} minutes spent at step {state.global_step}"
            )
            control.should_training_stop = True
            # Measure these weights, so the best of them and the earlier ones is kept.
            control.should_evaluate = True
            control.should_save = False


class _Flow(TrainerCallback):
    """Stops on request with a checkpoint; skips Trainer's full save at the last step.

    Runs after every other callback, so a stop requested during this step is seen in this step.
    """

    def __init__(self, stop: StopSignal) -> None:
        self.stop = stop
        self.stopped = False
        self.eval_loss: float | None = None

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.global_step >= state.max_steps:
            # The finished model is saved once, without optimizer state, as final/.
            control.should_save = False
        elif _on_any_process(self.stop.is_set(), args):
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if metrics is not None and state.global_step > 0:
            self.eval_loss = metrics["eval_loss"]


def _on_any_process(flag: bool, args: TrainingArguments) -> bool:
    """True on every process when `flag` is true on one: all DDP ranks must stop at one step."""
    if args.world_size <= 1:
        return flag
    value = torch.tensor([int(flag)], device=args.device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


class _ProgressBar(ProgressCallback):
    """Trainer's tqdm bar with loss and tokens/s beside it, eval losses as lines, no log dicts."""

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        bar = self.training_bar
        if not state.is_world_process_zero or bar is None or logs is None:
            return
        if "loss" in logs:
            speed = logs.get("tokens_per_second", 0.0)
            bar.set_postfix(loss=f"{logs['loss']:.3f}", tok_s=f"{speed:.0f}")
        if "eval_loss" in logs:
            bar.write(f"step {state.global_step}: eval loss {logs['eval_loss']:.4f}")


def generate_samples(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    count: int,
    max_length: int,
    seed: int,
) -> list[str]:
    """`count` sampled records, markers included, from the SAMPLE_PROMPTS in turn."""
    was_training = model.training
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
                output = model.generate(  # type: ignore[operator]
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
    model.train(was_training)
    return texts


def _decode_record(tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> str:
    """The record text with its start and end markers, without padding or other specials."""
    keep = {tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    pieces: list[str] = []
    current: list[int] = []
    for token_id in ids:
        if token_id in keep:
            pieces.append(str(tokenizer.decode(current, skip_special_tokens=True)))
            pieces.append(str(tokenizer.convert_ids_to_tokens(token_id)))
            current = []
        elif token_id != tokenizer.pad_token_id:
            current.append(token_id)
    pieces.append(str(tokenizer.decode(current, skip_special_tokens=True)))
    text = printable("".join(pieces))
    return text[: text.index(END_TOKEN) + len(END_TOKEN)] if END_TOKEN in text else text
