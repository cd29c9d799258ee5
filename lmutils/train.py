"""One training loop for every language model in the course.

fit() trains with AdamW, warm-up + cosine learning rate, gradient clipping and accumulation, mixed
precision where the device supports it, a tqdm progress bar, a live loss plot, evaluation at intervals
and checkpoint/resume. evaluate() gives the validation loss per token over a whole split.
"""

import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .data import get_batch, windows
from .device import autocast_dtype, pick_device
from .models import build_model, model_spec
from .plot import LivePlot


@dataclass
class TrainConfig:
    max_iters: int = 2000
    batch_size: int = 32
    block_size: int = 128
    learning_rate: float = 1e-3
    min_lr: float | None = None          # default: learning_rate / 10
    warmup_iters: int = 0
    lr_decay_iters: int | None = None    # cosine decay ends here; default: max_iters
    weight_decay: float = 0.1            # on weight matrices and embeddings only
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float | None = 1.0        # max global gradient norm (None: no clipping)
    grad_accum: int = 1                  # micro-batches per optimizer step
    eval_interval: int = 200
    eval_iters: int = 20                 # batches per loss estimate
    log_interval: int = 10
    dtype: str = "auto"                  # "auto", "float32", "bfloat16" or "float16"
    compile: bool = False
    checkpoint: str | None = None        # path: saved every checkpoint_interval steps, resumed from if present
    checkpoint_interval: int | None = None  # default: eval_interval
    seed: int = 0

    def __post_init__(self):
        for name in ("max_iters", "batch_size", "block_size", "grad_accum", "eval_interval", "eval_iters", "log_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown training setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        return cls(**d)


DTYPES = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class History:
    """What fit() measured: training loss every log_interval steps, loss estimates every eval_interval."""
    steps: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    eval_train: list = field(default_factory=list)
    eval_val: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, unreadable, or from another model."""


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up for warmup_iters steps, then cosine decay to min_lr at lr_decay_iters."""
    min_lr = cfg.learning_rate / 10 if cfg.min_lr is None else cfg.min_lr
    decay_end = cfg.lr_decay_iters or cfg.max_iters
    if step < cfg.warmup_iters:
        return cfg.learning_rate * (step + 1) / cfg.warmup_iters
    if step >= decay_end:
        return min_lr
    progress = (step - cfg.warmup_iters) / max(1, decay_end - cfg.warmup_iters)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.learning_rate - min_lr)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings (dim >= 2), none on biases and norm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2),
                             fused=device.type == "cuda")


def resolve_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for this run, or None for plain float32."""
    if cfg.dtype == "auto":
        return autocast_dtype(device)
    dtype = DTYPES[cfg.dtype]
    if dtype == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bfloat16 support (e.g. a T4): use dtype='float16' or 'auto'")
    return None if dtype == torch.float32 else dtype


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of next-token logits (B, T, V) against targets (B, T): mean NLL per token, in nats."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction=reduction)


@torch.no_grad()
def estimate_loss(model, ids, cfg: TrainConfig, device, autocast=nullcontext) -> float:
    """Mean loss over eval_iters random batches. The batches are the same at every call (fixed seed), so
    successive estimates differ only because the model changed."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    total = 0.0
    for _ in range(cfg.eval_iters):
        x, y = get_batch(ids, cfg.block_size, cfg.batch_size, device, generator=gen)
        with autocast():
            total += lm_loss(model(x), y).item()
    model.train(was_training)
    return total / cfg.eval_iters


@torch.no_grad()
def evaluate(model, ids: torch.Tensor, block_size: int, batch_size: int = 64, device=None) -> float:
    """Mean negative log-likelihood per token over a whole split, in non-overlapping windows of block_size.
    Every token counts once, whatever the batch it falls in: perplexity = exp(this)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    x_all, y_all = windows(ids, block_size)
    nll, count = 0.0, 0
    for i in range(0, len(x_all), batch_size):
        x, y = x_all[i:i + batch_size].to(device), y_all[i:i + batch_size].to(device)
        nll += lm_loss(model(x), y, reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return nll / count


def fit(model: torch.nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig | None = None,
        device=None, progress: bool = True, plot: bool = True, title: str = "", baselines: dict | None = None,
        tokenizer=None, quiet: bool = False) -> History:
    """Train a language model on 1-D tensors of token ids; returns the History.

    With cfg.checkpoint set, a checkpoint is written every checkpoint_interval steps and at the end, and a
    run restarted with the same path resumes exactly where the last checkpoint left off.
    """
    cfg = cfg or TrainConfig()
    device = pick_device(device) if not isinstance(device, torch.device) else device
    model.to(device)
    raw_model = model
    dtype = resolve_dtype(cfg, device)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
    optimizer = make_optimizer(model, cfg, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    history, step, resumed_at = History(), 0, None

    if cfg.checkpoint and Path(cfg.checkpoint).exists():
        state = load_checkpoint(cfg.checkpoint)
        restore_model(state, model)
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        batch_gen.set_state(state["rng"]["batch"])
        torch.set_rng_state(state["rng"]["torch"])
        history = History(**state["history"])
        step = resumed_at = state["step"]
        if not quiet:
            tqdm.write(f"resumed from {cfg.checkpoint} at step {step}", file=sys.stdout)

    if cfg.compile:
        model = torch.compile(model)
    live = LivePlot(title=title, baselines=baselines) if plot else None
    if live:
        for s, t in zip(history.steps, history.train_loss):
            live.update(s, train=t)
        for s, v in zip(history.eval_steps, history.eval_val):
            live.update(s, val=v)
    bar = tqdm(total=cfg.max_iters, initial=step, disable=not progress, desc=title or "training", unit="step",
               file=sys.stdout)
    save_every = cfg.checkpoint_interval or cfg.eval_interval
    tokens_per_step = cfg.batch_size * cfg.block_size * cfg.grad_accum
    running, t_log = [], time.perf_counter()
    model.train()
    try:
        while True:
            boundary = step != resumed_at  # a resumed step was evaluated and saved before the interruption
            if boundary and (step % cfg.eval_interval == 0 or step == cfg.max_iters):
                t_eval = time.perf_counter()
                tr = estimate_loss(model, train_ids, cfg, device, autocast)
                va = estimate_loss(model, val_ids, cfg, device, autocast)
                history.eval_steps.append(step), history.eval_train.append(tr), history.eval_val.append(va)
                if live:
                    live.update(step, val=va, force=True)
                if not quiet:
                    tqdm.write(f"step {step:5d} | train loss {tr:.4f} | val loss {va:.4f}", file=sys.stdout)
                t_log += time.perf_counter() - t_eval  # evaluation time is not training time
            if boundary and cfg.checkpoint and step > 0 and (step % save_every == 0 or step == cfg.max_iters):
                save_checkpoint(cfg.checkpoint, raw_model, optimizer, scaler, step, cfg, history, batch_gen, tokenizer)
            if step == cfg.max_iters:
                break

            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            for _ in range(cfg.grad_accum):
                x, y = get_batch(train_ids, cfg.block_size, cfg.batch_size, device, generator=batch_gen)
                with autocast():
                    loss = lm_loss(model(x), y) / cfg.grad_accum
                scaler.scale(loss).backward()
            if cfg.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            running.append(loss.detach() * cfg.grad_accum)
            step += 1
            bar.update(1)

            if step % cfg.log_interval == 0 or step == cfg.max_iters:
                mean = torch.stack(running).mean().item()  # one device sync per log, not per step
                elapsed = time.perf_counter() - t_log
                history.seconds += elapsed
                history.tokens += len(running) * tokens_per_step
                history.steps.append(step), history.train_loss.append(mean), history.lr.append(lr)
                bar.set_postfix(loss=f"{mean:.3f}", tok_s=f"{len(running) * tokens_per_step / elapsed:,.0f}")
                if live:
                    live.update(step, train=mean)
                running, t_log = [], time.perf_counter()
    except torch.cuda.OutOfMemoryError:
        raise RuntimeError(f"out of GPU memory with batch_size={cfg.batch_size}, block_size={cfg.block_size}. "
                           "Lower batch_size (and raise grad_accum to keep the tokens per step), lower block_size, "
                           "or use a smaller model (n_layer, n_embd).") from None
    finally:
        bar.close()
        if live:
            live.close()
    if not quiet:
        print(f"trained {step} steps in {history.seconds:.1f} s ({history.tokens_per_s:,.0f} tokens/s)")
    return history


# --- checkpoints ---------------------------------------------------------------------------------

def save_checkpoint(path, model, optimizer=None, scaler=None, step: int = 0, cfg: TrainConfig | None = None,
                    history: History | None = None, batch_gen: torch.Generator | None = None, tokenizer=None):
    """Write a checkpoint atomically: to a temporary file first, then renamed over the old one, so an
    interruption never leaves a half-written checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)  # unwrap DDP
    state = {
        "format": "lmutils-checkpoint-1",
        "model_spec": model_spec(model),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scaler": scaler.state_dict() if scaler else None,
        "step": step,
        "train_config": asdict(cfg) if cfg else None,
        "history": history.as_dict() if history else None,
        "rng": {"batch": batch_gen.get_state() if batch_gen else None, "torch": torch.get_rng_state()},
        "tokenizer": tokenizer.state_dict() if tokenizer else None,
    }
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint with weights_only=True (no arbitrary code runs), with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: check the path, or train first to create it")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}: {str(err)[:120]}). "
                              "It is probably truncated (an interrupted copy or a full disk) or not a checkpoint "
                              "at all: delete it to start afresh, or use an earlier copy.") from None
    if not isinstance(state, dict) or state.get("format") != "lmutils-checkpoint-1":
        raise CheckpointError(f"{path} is a PyTorch file but not an lmutils checkpoint (no 'format' entry)")
    return state


def restore_model(state: dict, model: torch.nn.Module) -> None:
    """Load a checkpoint's weights into model, refusing one saved from a different kind or shape."""
    model = getattr(model, "module", model)
    want, have = state["model_spec"], model_spec(model)
    if want != have:
        diff = [f"{k}={want['config'].get(k)} (this model: {v})" for k, v in have["config"].items()
                if want["config"].get(k) != v]
        what = f"a {want['kind']} model" if want["kind"] != have["kind"] else ", ".join(diff)
        raise CheckpointError(f"the checkpoint was saved from a different model: {what}. Build the model with the "
                              "checkpoint's settings (lmutils.train.load_model(path) does that), or give this run "
                              "a new checkpoint path.")
    model.load_state_dict(state["model"])


def load_model(path, device=None):
    """Rebuild a trained model (and its tokenizer, if saved) from a checkpoint: returns (model, tokenizer)."""
    from .data import CharTokenizer

    state = load_checkpoint(path)
    model = build_model(state["model_spec"])
    model.load_state_dict(state["model"])
    tok = CharTokenizer.from_state_dict(state["tokenizer"]) if state.get("tokenizer") else None
    return model.to(device or "cpu").eval(), tok
