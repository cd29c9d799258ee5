"""One training loop for every language model in the course: fit() (AdamW or Muon, warm-up + cosine schedule, clipping,
accumulation, mixed precision, evaluation, checkpoint/resume, data-parallel under torchrun); evaluate(), the loss
per token over a whole split. The training command around it is lmutils.run."""

import math
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoint import data_fingerprint, resume, save_run
from .data import get_batch, windows
from .device import DTYPES, pick_device, resolve_compile, resolve_dtype
from .distributed import agree, ddp, split_batch, world
from .models import evaluating
from .muon import Muon, Optimizers, muon_groups
from .progress import Reporter, reporter
from .speed import Meter, flops_per_token, mfu, peak_flops


OPTIMIZERS = ("adamw", "muon")


@dataclass
class TrainConfig:
    max_iters: int = 2000
    batch_size: int = 32                 # sequences per micro-batch (under DDP see distributed.split_batch)
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
    early_stop: bool = False             # stop when the validation loss has risen well above its best (overfitting)
    seed: int = 0
    optimizer: str = "adamw"             # or "muon": Muon for the matrices inside the blocks, AdamW for the rest
    muon_lr: float = 0.02                # Muon's peak learning rate (the schedule scales it as learning_rate)
    muon_momentum: float = 0.95

    def __post_init__(self):
        at_least = {"max_iters": 1, "batch_size": 1, "block_size": 1, "grad_accum": 1, "eval_interval": 1,
                    "eval_iters": 1, "log_interval": 1, "checkpoint_interval": 1, "lr_decay_iters": 1,
                    "warmup_iters": 0}
        for name, low in at_least.items():
            if (value := getattr(self, name)) is not None and value < low:
                raise SettingError(name, f"{name} must be at least {low}, got {value}")
        for name in ("learning_rate", "min_lr", "weight_decay", "beta1", "beta2", "grad_clip"):
            if (value := getattr(self, name)) is not None and not math.isfinite(value):
                raise SettingError(name, f"{name} must be a finite number, got {value}")
        if self.learning_rate <= 0:
            raise SettingError("learning_rate", f"learning_rate must be > 0, got {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise SettingError("optimizer", f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.muon_lr <= 0 or not 0 <= self.muon_momentum < 1:
            name = "muon_lr" if self.muon_lr <= 0 else "muon_momentum"
            raise SettingError(name, f"{name} must be {'> 0' if name == 'muon_lr' else 'at least 0 and below 1'}, "
                               f"got {getattr(self, name)}")
        if self.min_lr is not None and not 0 <= self.min_lr <= self.learning_rate:
            raise SettingError("min_lr", f"min_lr ({self.min_lr:g}) must be between 0 and learning_rate "
                               f"({self.learning_rate:g}): the cosine decays from learning_rate down to min_lr")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise SettingError(name, f"{name} must be at least 0 and below 1, got {getattr(self, name)}")
        if self.weight_decay < 0 or (self.grad_clip is not None and self.grad_clip <= 0):
            name = "weight_decay" if self.weight_decay < 0 else "grad_clip"
            raise SettingError(name, f"{name} must be positive, got {getattr(self, name)} "
                               "(grad_clip=None: no clipping)")
        if self.dtype not in DTYPES:
            raise SettingError("dtype", f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = sorted(f.name for f in fields(cls))
        if unknown := sorted(set(d) - set(known)):
            raise ValueError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return cls(**d)

    @property
    def tokens_per_step(self) -> int:
        """Tokens per optimizer step (all processes together)."""
        return self.batch_size * self.block_size * self.grad_accum


class SettingError(ValueError):
    """A setting that cannot work; .setting names it (the command turns it into its option, --min-lr)."""

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


@dataclass
class History:
    """What fit() measured: training loss every log_interval steps, loss estimates every eval_interval."""
    steps: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    eval_train: list = field(default_factory=list)
    eval_val: list = field(default_factory=list)
    eval_seconds: list = field(default_factory=list)  # training seconds (History.seconds) at each evaluation
    lr: list = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0                      # all processes together
    flops_per_token: float = 0.0         # training FLOPs per token (0: unknown for this model)
    peak_flops: float | None = None      # one device's peak (None: unknown, e.g. a CPU)
    world_size: int = 1                  # processes (GPUs) that trained together

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilisation over the whole run (None where the device's peak is unknown)."""
        return mfu(self.flops_per_token, self.tokens_per_s, self.peak_flops, self.world_size)


class TrainingOutOfMemory(RuntimeError):
    """The GPU ran out of memory; the message says which setting to lower."""


def out_of_memory_message(cfg: TrainConfig, dtype: torch.dtype | None = None) -> str:
    """What to lower when training does not fit in GPU memory."""
    half, accum = max(1, cfg.batch_size // 2), cfg.grad_accum * 2
    msg = (f"out of GPU memory with batch_size={cfg.batch_size}, block_size={cfg.block_size}. Lower batch_size (and "
           f"raise grad_accum to keep the tokens per step): batch_size={half}, grad_accum={accum} still trains on "
           f"{half * cfg.block_size * accum:,} tokens per step (now {cfg.tokens_per_step:,}); on the command line "
           f"--batch-size {half} --grad-accum {accum}. Or lower block_size, or use a smaller model (n_layer, n_embd).")
    if dtype is None:
        msg += " Mixed precision (dtype='bfloat16', or 'float16' on a T4) also halves the activations' memory."
    return msg


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


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device):
    """AdamW with weight decay on matrices and embeddings (dim >= 2), none on biases and norm gains. With
    cfg.optimizer == "muon": Muon for the matrices inside the blocks (lmutils.muon) and AdamW for the rest,
    stepped as one; each group's lr_scale is its peak rate relative to learning_rate (see train_step)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "muon":
        matrices, params = muon_groups(model)
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    adamw = torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), fused=device.type == "cuda")
    if cfg.optimizer == "adamw":
        return adamw
    muon = Muon(matrices, lr=cfg.muon_lr, momentum=cfg.muon_momentum, weight_decay=cfg.weight_decay)
    muon.param_groups[0]["lr_scale"] = cfg.muon_lr / cfg.learning_rate
    return Optimizers(muon, adamw)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of next-token logits (B, T, V) against targets (B, T): mean NLL per token, in nats."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction=reduction)


@torch.no_grad()
def estimate_loss(model, ids, cfg: TrainConfig, device, autocast=nullcontext) -> float:
    """Mean loss over eval_iters random batches. The batches are the same at every call (fixed seed), so
    successive estimates differ only because the model changed."""
    gen = torch.Generator().manual_seed(1234)
    total = 0.0
    with evaluating(model):
        for _ in range(cfg.eval_iters):
            x, y = get_batch(ids, cfg.block_size, cfg.batch_size, device, generator=gen)
            with autocast():
                total += lm_loss(model(x), y).item()
    return total / cfg.eval_iters


@torch.no_grad()
def evaluate(model, ids: torch.Tensor, block_size: int, batch_size: int = 64, device=None) -> float:
    """Mean negative log-likelihood per token over a whole split, in non-overlapping windows of block_size.
    Every token counts once, whatever the batch it falls in: perplexity = exp(this)."""
    device = device or next(model.parameters()).device
    x_all, y_all = windows(ids, block_size)
    batches = [(x_all[i:i + batch_size], y_all[i:i + batch_size]) for i in range(0, len(x_all), batch_size)]
    covered = len(x_all) * block_size  # targets the full windows predict: ids[1 : covered + 1]
    if covered + 1 < len(ids):        # the tail shorter than a window: one more, shorter window
        batches.append((ids[covered:-1][None], ids[covered + 1:][None]))
    nll, count = 0.0, 0
    with evaluating(model):
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            nll += lm_loss(model(x), y, reduction="sum").item()
            count += y.numel()
    return nll / count


def overfitting(val_losses: list) -> bool:
    """Whether the last validation loss has risen well above the best one before it (by 5 % and at least 0.05):
    the model is learning its training text by heart instead of what generalises."""
    best = min(val_losses[:-1], default=math.inf)
    return bool(val_losses) and val_losses[-1] > best + max(0.05, 0.05 * best)


def overfitting_warning(history) -> str | None:
    """What to say when the last evaluation shows over-fitting (else None)."""
    v = history.eval_val
    if not overfitting(v):
        return None
    best = v.index(min(v))
    return (f"validation loss {v[-1]:.4f} at step {history.eval_steps[-1]} is well above its best, {v[best]:.4f} at "
            f"step {history.eval_steps[best]}: the model is learning the training text by heart (over-fitting). Train "
            "fewer steps (max_iters), add dropout, or use a smaller model (n_layer, n_embd); early_stop=True "
            "(--early-stop) stops here.")


def fit(model: torch.nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig | None = None,
        device=None, report=None, tokenizer=None) -> History:
    """Train a language model on 1-D tensors of token ids; returns the History.

    report: what to show, a Reporter or a list of them (lmutils.progress; None: print the evaluation lines).
    With cfg.checkpoint set, a checkpoint (with the tokenizer) is written every checkpoint_interval steps and at the
    end; a run restarted with the same path resumes exactly where the last checkpoint left off. Under torchrun
    every process trains a DistributedDataParallel copy on its own random batches, its share of each step's
    batch_size × grad_accum sequences (split_batch); rank 0 alone evaluates, reports and saves.
    """
    cfg = cfg or TrainConfig()
    device = device if isinstance(device, torch.device) else pick_device(device)
    rank, world_size = world()
    report = reporter(report) if rank == 0 else Reporter()
    dtype = resolve_dtype(cfg.dtype, device)  # the device table (lmutils.device.capabilities) decides "auto"
    use_compile, note = resolve_compile(cfg.compile, device)  # off, with a note, where it cannot work
    if note:
        report.say(note)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
    optimizer = make_optimizer(model.to(device), cfg, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    batch_gen = torch.Generator().manual_seed(cfg.seed + rank)  # each process draws its own batches
    if world_size > 1:
        torch.manual_seed(cfg.seed + rank)  # and its own dropout masks
    history, step = History(), 0
    if cfg.checkpoint and Path(cfg.checkpoint).exists():
        saved, step = resume(cfg.checkpoint, model, optimizer, scaler, batch_gen, device, report.say)
        history = History(**saved)
    if step >= cfg.max_iters:
        report.say(f"nothing to train: the checkpoint is at step {step}, {'past' if step > cfg.max_iters else 'at'} "
                   f"max_iters={cfg.max_iters}. Give a larger max_iters (--max-iters) to train on, or a new checkpoint "
                   "path to start afresh.")
        report.end(history, 0)
        report.close()
        return history
    first, resumed_at = step, step or None
    data = data_fingerprint(train_ids, val_ids) if cfg.checkpoint else None
    history.flops_per_token = flops_per_token(model, cfg.block_size)
    history.peak_flops, history.world_size = peak_flops(device), world_size
    batch_size, grad_accum = split_batch(cfg.batch_size, cfg.grad_accum, world_size)
    eval_model = torch.compile(model) if use_compile else model  # rank 0 evaluates alone, never through DDP
    train_model = ddp(eval_model, device) if world_size > 1 else eval_model
    next_batch = lambda: get_batch(train_ids, cfg.block_size, batch_size, device, generator=batch_gen)  # noqa: E731
    meter, warned = Meter(history, cfg.tokens_per_step), False
    report.start(history, step, cfg.max_iters)
    train_model.train()
    try:
        while True:
            stop = False
            if step != resumed_at:  # a resumed step was evaluated and saved before the interruption
                if rank == 0 and (step % cfg.eval_interval == 0 or step == cfg.max_iters):
                    with meter.paused():  # the reporters' time (a best checkpoint's save) is not training time
                        tr, va = [estimate_loss(eval_model, ids, cfg, device, autocast) for ids in (train_ids, val_ids)]
                        report.evaluated(step, tr, va, meter.evaluated(step, tr, va))
                    if not warned and (warning := overfitting_warning(history)):
                        report.say(warning)
                        warned, stop = True, cfg.early_stop
                if cfg.early_stop and world_size > 1 and step % cfg.eval_interval == 0:
                    stop = agree(stop)  # rank 0 decided: every process stops at the same step
                if cfg.checkpoint and step and (step % (cfg.checkpoint_interval or cfg.eval_interval) == 0
                                                or step == cfg.max_iters or stop):
                    with meter.paused():
                        save_run(cfg, model, optimizer, scaler, step, history, batch_gen, device, tokenizer, data)
            if stop:
                report.say(f"stopped early at step {step} of {cfg.max_iters} (early_stop)")
            if step == cfg.max_iters or stop:
                break
            lr = lr_at(step, cfg)
            meter.losses.append(train_step(train_model, optimizer, scaler, lr, next_batch, grad_accum, cfg.grad_clip,
                                           autocast))
            step += 1
            if step % cfg.log_interval == 0 or step == cfg.max_iters:
                report.logged(step, *meter.log(step, lr))
        report.end(history, step - first)
    except RuntimeError as err:  # CUDA's OutOfMemoryError is one; MPS says "MPS backend out of memory"
        if isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err):
            raise TrainingOutOfMemory(out_of_memory_message(cfg, dtype)) from None
        raise
    finally:
        report.close()
    return history


def train_step(model, optimizer, scaler, lr, next_batch, grad_accum, grad_clip, autocast) -> torch.Tensor:
    """One optimizer step at learning rate lr over grad_accum micro-batches; returns the mean loss, as a tensor
    (reading its value would make the CPU wait for the GPU)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
    total = 0.0
    for micro in range(grad_accum):
        # under DDP, gradients are averaged across processes only in the last micro-batch's backward
        sync = micro == grad_accum - 1 or not hasattr(model, "no_sync")
        with nullcontext() if sync else model.no_sync():
            x, y = next_batch()
            with autocast():
                loss = lm_loss(model(x), y) / grad_accum
            scaler.scale(loss).backward()
        total += loss.detach()
    if grad_clip:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return total


if __name__ == "__main__":  # python -m lmutils.train: the same command as python -m lmutils.run, run as the script
    import runpy                # (so that this file imports nothing above it: lmutils.run imports this loop)

    runpy.run_module("lmutils.run", run_name="__main__", alter_sys=True)
