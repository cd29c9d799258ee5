"""One training loop for every language model in the course.

fit() trains with AdamW, warm-up + cosine learning rate, gradient clipping and accumulation, mixed
precision where the device supports it, a tqdm progress bar, a live loss plot, evaluation at intervals
and checkpoint/resume. evaluate() gives the validation loss per token over a whole split.
Started by torchrun, fit() trains data-parallel with DistributedDataParallel (one process per GPU).

The same training as a command, with a preset (lmutils.presets) and overrides:

    python -m lmutils.train --preset shakespeare-char-cpu --max-iters 500 --checkpoint out/run.pt
    torchrun --standalone --nproc_per_node=4 -m lmutils.train --preset shakespeare-char
    python -m lmutils.train --list-presets
"""

import argparse
import math
import os
import re
import sys
import time
import typing
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from .data import get_batch, windows
from .device import autocast_dtype, pick_device
from .models import build_model, model_spec


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

    @property
    def tokens_per_step(self) -> int:
        """Tokens one process trains on per optimizer step."""
        return self.batch_size * self.block_size * self.grad_accum


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

    def as_dict(self) -> dict:
        return asdict(self)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, unreadable, or from another model."""


class TrainingOutOfMemory(RuntimeError):
    """The GPU ran out of memory; the message says which setting to lower."""


# --- speed: tokens per second and model FLOPs utilisation ------------------------------------------

# Peak dense bf16/fp16 tensor-core throughput of one GPU, FLOP/s (NVIDIA data sheets, without sparsity).
PEAK_FLOPS = {
    "T4": 65e12,      # fp16 (no bf16)
    "V100": 125e12,   # fp16, SXM2 (PCIe: 112e12)
    "A10": 125e12,
    "L4": 121e12,
    "A100": 312e12,
    "H100": 989e12,   # SXM; the PCIe card: 756e12
    "H200": 989e12,
}


def gpu_peak_flops(name: str) -> float | None:
    """Peak FLOP/s for a GPU by its name as torch.cuda.get_device_name gives it, e.g. 'NVIDIA A100-SXM4-80GB';
    None for a GPU that is not in PEAK_FLOPS."""
    words = re.split(r"[^A-Z0-9]+", name.upper())
    for word in words:
        if word in PEAK_FLOPS:
            return 756e12 if word == "H100" and "PCIE" in words else PEAK_FLOPS[word]
    return None


def peak_flops(device) -> float | None:
    """Peak FLOP/s of one device: from PEAK_FLOPS for a known GPU, None for CPUs, MPS and unknown GPUs."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return gpu_peak_flops(torch.cuda.get_device_name(device))


def mfu(flops_per_token: float, tokens_per_s: float, peak: float | None, n_devices: int = 1) -> float | None:
    """Model FLOPs utilisation: the FLOPs the model needs per second at this speed, as a fraction of what
    the devices could do at their peak. None where the peak is unknown."""
    if not peak or not flops_per_token:
        return None
    return flops_per_token * tokens_per_s / (peak * n_devices)


def format_mfu(utilisation: float | None) -> str:
    """'MFU 35.2%', or 'MFU n/a' where the peak is unknown."""
    return "MFU n/a" if utilisation is None else f"MFU {100 * utilisation:.1f}%"


def format_speed(tokens_per_s: float, utilisation: float | None) -> str:
    """'41,000 tokens/s | MFU 35.2%', or 'MFU n/a' where the peak is unknown."""
    return f"{tokens_per_s:,.0f} tokens/s | {format_mfu(utilisation)}"


def out_of_memory_message(cfg: "TrainConfig", dtype: torch.dtype | None = None) -> str:
    """What to lower when training does not fit in GPU memory."""
    half, accum = max(1, cfg.batch_size // 2), cfg.grad_accum * 2
    tokens = cfg.tokens_per_step
    msg = (f"out of GPU memory with batch_size={cfg.batch_size}, block_size={cfg.block_size}. Lower batch_size "
           f"(and raise grad_accum to keep the tokens per step): batch_size={half}, grad_accum={accum} still "
           f"trains on {half * cfg.block_size * accum:,} tokens per step (now {tokens:,}); on the command line "
           f"--batch-size {half} --grad-accum {accum}. Or lower block_size, or use a smaller model (n_layer, n_embd).")
    if dtype is None:
        msg += " Mixed precision (dtype='bfloat16', or 'float16' on a T4) also halves the activations' memory."
    return msg


def world() -> tuple[int, int]:
    """(rank, world_size) of this process: (0, 1) unless torch.distributed was initialised (torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


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
    batches = [(x_all[i:i + batch_size], y_all[i:i + batch_size]) for i in range(0, len(x_all), batch_size)]
    covered = len(x_all) * block_size  # targets the full windows predict: ids[1 : covered + 1]
    if covered + 1 < len(ids):        # the tail shorter than a window: one more, shorter window
        batches.append((ids[covered:-1][None], ids[covered + 1:][None]))
    nll, count = 0.0, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        nll += lm_loss(model(x), y, reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return nll / count


def fit(model: torch.nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig | None = None,
        device=None, progress: bool = True, plot=None, title: str = "", tokenizer=None, quiet: bool = False,
        speed: bool = False) -> History:
    """Train a language model on 1-D tensors of token ids; returns the History.

    With cfg.checkpoint set, a checkpoint is written every checkpoint_interval steps and at the end, and a
    run restarted with the same path resumes exactly where the last checkpoint left off.
    speed=True adds tokens/s and MFU to every evaluation line. plot: anything with update(step, **losses) and
    close(), e.g. the course's live loss plot, lmutils.course.plot.LivePlot.
    Under torchrun (torch.distributed initialised) every process trains a DistributedDataParallel copy on
    its own random batches; only rank 0 evaluates, prints, plots and saves.
    """
    cfg = cfg or TrainConfig()
    device = pick_device(device) if not isinstance(device, torch.device) else device
    rank, world_size = world()
    if rank != 0:
        progress, plot, quiet = False, None, True
    model.to(device)
    raw_model = model
    dtype = resolve_dtype(cfg, device)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
    optimizer = make_optimizer(model, cfg, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    batch_gen = torch.Generator().manual_seed(cfg.seed + rank)  # each process draws its own batches
    if world_size > 1:
        torch.manual_seed(cfg.seed + rank)  # and its own dropout masks
    history, step, resumed_at = History(), 0, None

    if cfg.checkpoint and Path(cfg.checkpoint).exists():
        state = load_checkpoint(cfg.checkpoint)
        restore_model(state, model)
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        rngs = state["rng"].get("ranks") or [state["rng"]]
        if rank < len(rngs):
            batch_gen.set_state(rngs[rank]["batch"])
            torch.set_rng_state(rngs[rank]["torch"])
        history = History(**state["history"])
        step = resumed_at = state["step"]
        if not quiet:
            tqdm.write(f"resumed from {cfg.checkpoint} at step {step}", file=sys.stdout)
            if len(rngs) != world_size:
                tqdm.write(f"(saved by {len(rngs)} process(es), resumed by {world_size}: the weights and optimizer "
                           "continue exactly, the random batches do not)", file=sys.stdout)
    flops = getattr(raw_model, "flops_per_token", None)
    history.flops_per_token = float(flops()) if flops else 0.0
    history.peak_flops, history.world_size = peak_flops(device), world_size

    if cfg.compile:
        model = torch.compile(model)
    eval_model = model  # rank 0 evaluates alone: on its own copy, never through DDP's collectives
    if world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    live = plot or None
    if live:
        for s, t in zip(history.steps, history.train_loss):
            live.update(s, train=t)
        for s, v in zip(history.eval_steps, history.eval_val):
            live.update(s, val=v)
    bar = tqdm(total=cfg.max_iters, initial=step, disable=not progress, desc=title or "training", unit="step",
               file=sys.stdout)
    save_every = cfg.checkpoint_interval or cfg.eval_interval
    tokens_per_step = cfg.tokens_per_step * world_size
    running, t_log = [], time.perf_counter()
    since_eval = (history.tokens, history.seconds)
    model.train()
    try:
        while True:
            boundary = step != resumed_at  # a resumed step was evaluated and saved before the interruption
            if boundary and rank == 0 and (step % cfg.eval_interval == 0 or step == cfg.max_iters):
                t_eval = time.perf_counter()
                tr = estimate_loss(eval_model, train_ids, cfg, device, autocast)
                va = estimate_loss(eval_model, val_ids, cfg, device, autocast)
                history.eval_steps.append(step), history.eval_train.append(tr), history.eval_val.append(va)
                if live:
                    live.update(step, val=va, force=True)
                line = f"step {step:5d} | train loss {tr:.4f} | val loss {va:.4f}"
                seconds = history.seconds - since_eval[1]
                if speed and seconds > 0:
                    tok_s = (history.tokens - since_eval[0]) / seconds
                    line += " | " + format_speed(tok_s, mfu(history.flops_per_token, tok_s, history.peak_flops,
                                                            world_size))
                since_eval = (history.tokens, history.seconds)
                if not quiet:
                    tqdm.write(line, file=sys.stdout)
                t_log += time.perf_counter() - t_eval  # evaluation time is not training time
            if boundary and cfg.checkpoint and step > 0 and (step % save_every == 0 or step == cfg.max_iters):
                ranks = _gather_rng_states(batch_gen) if world_size > 1 else None
                if rank == 0:
                    save_checkpoint(cfg.checkpoint, raw_model, optimizer, scaler, step, cfg, history, batch_gen,
                                    tokenizer, rank_rng=ranks)
            if step == cfg.max_iters:
                break

            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            for micro in range(cfg.grad_accum):
                # with DDP, gradients are averaged across processes only in the last micro-batch's backward
                sync = world_size == 1 or micro == cfg.grad_accum - 1
                with nullcontext() if sync else model.no_sync():
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
                tok_s = len(running) * tokens_per_step / elapsed
                post = dict(loss=f"{mean:.3f}", tok_s=f"{tok_s:,.0f}")
                util = mfu(history.flops_per_token, tok_s, history.peak_flops, world_size)
                if util is not None:
                    post["mfu"] = f"{100 * util:.1f}%"
                bar.set_postfix(post)
                if live:
                    live.update(step, train=mean)
                running, t_log = [], time.perf_counter()
    except (torch.cuda.OutOfMemoryError, RuntimeError) as err:
        if not isinstance(err, torch.cuda.OutOfMemoryError) and "out of memory" not in str(err):
            raise  # MPS says "MPS backend out of memory" in a plain RuntimeError
        raise TrainingOutOfMemory(out_of_memory_message(cfg, dtype)) from None
    finally:
        bar.close()
        if live:
            live.close()
    if not quiet:
        extra = f", {format_mfu(history.mfu)}" if speed or history.mfu is not None else ""
        print(f"trained {step} steps in {history.seconds:.1f} s ({history.tokens_per_s:,.0f} tokens/s{extra})")
    return history


def _gather_rng_states(batch_gen: torch.Generator) -> list:
    """Every process's random states (its batches, its dropout), for rank 0 to save: exact resume with DDP."""
    states = [None] * dist.get_world_size()
    dist.all_gather_object(states, {"batch": batch_gen.get_state(), "torch": torch.get_rng_state()})
    return states


# --- checkpoints ---------------------------------------------------------------------------------

def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model itself, out of DistributedDataParallel (.module) and torch.compile (._orig_mod)."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def save_checkpoint(path, model, optimizer=None, scaler=None, step: int = 0, cfg: TrainConfig | None = None,
                    history: History | None = None, batch_gen: torch.Generator | None = None, tokenizer=None,
                    rank_rng: list | None = None):
    """Write a checkpoint atomically: to a temporary file first, then renamed over the old one, so an
    interruption never leaves a half-written checkpoint behind. rank_rng: every DDP process's random states."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = unwrap(model)
    state = {
        "format": "lmutils-checkpoint-1",
        "model_spec": model_spec(model),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scaler": scaler.state_dict() if scaler else None,
        "step": step,
        "train_config": asdict(cfg) if cfg else None,
        "history": history.as_dict() if history else None,
        "rng": {"batch": batch_gen.get_state() if batch_gen else None, "torch": torch.get_rng_state(),
                "ranks": rank_rng},
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
    model = unwrap(model)
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


# --- the command: python -m lmutils.train ----------------------------------------------------------

def settings_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Options shared by `python -m lmutils.train` and `python -m lmutils.bench`: --preset, --device and one
    option per setting of the model and the training (--max-iters, --batch-size, --n-layer, --compile, ...)."""
    from .models import GPTConfig
    from .presets import MODEL_KEYS, PRESETS

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--preset", help=f"one of: {', '.join(PRESETS)} (default: the one that suits the device)")
    parser.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best one available)")
    parser.add_argument("--list-presets", action="store_true", help="list the presets and stop")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    group = parser.add_argument_group("settings", "override the preset's values (see lmutils.presets)")
    group.add_argument("--corpus", default=argparse.SUPPRESS, help="shakespeare, tang, or the path of a text file")
    types = {f.name: f.type for f in fields(GPTConfig) if f.name in MODEL_KEYS}
    types |= {f.name: f.type for f in fields(TrainConfig)}
    for name, typ in types.items():
        flag = "--" + name.replace("_", "-")
        if typ is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS)
        else:
            group.add_argument(flag, type=_value_parser(typ), default=argparse.SUPPRESS,
                               choices=list(DTYPES) if name == "dtype" else None)
    return parser


def _value_parser(typ):
    """int, float, str or 'X | None' (then 'none' means None) from a command-line string."""
    args = typing.get_args(typ)
    base = next(a for a in args if a is not type(None)) if args else typ

    def parse(text: str):
        if args and text.lower() == "none":
            return None
        return base(text)

    parse.__name__ = base.__name__  # argparse names the type in its error messages
    return parse


def overrides_from(args: argparse.Namespace) -> dict:
    """The settings given on the command line (only those: the preset supplies the rest)."""
    from .presets import known_settings

    return {k: v for k, v in vars(args).items() if k in known_settings()}


def start_processes(device_name: str | None) -> tuple[torch.device, int, int]:
    """Pick the device and, when started by torchrun (WORLD_SIZE > 1), join the process group:
    NCCL between GPUs (process i on GPU i of its machine), gloo between CPU processes.
    Returns (device, rank, world_size)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_name)
    if world_size == 1:
        return device, 0, 1
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "mps":
        raise ValueError("torch.distributed cannot use Apple's MPS: run one process, or --device cpu")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"process {local_rank} has no GPU of its own: this machine has "
                             f"{torch.cuda.device_count()}; start at most that many (--nproc_per_node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device, dist.get_rank(), world_size


def train_preset(settings: dict, device: torch.device, progress: bool = True, quiet: bool = False,
                 title: str = ""):
    """Build the GPT of a preset's settings on its corpus and fit() it;
    returns (model, tokenizer, history, validation token ids)."""
    from .data import encode_corpus
    from .device import describe, seed_everything
    from .models import GPT, GPTConfig, num_params
    from .presets import split_settings

    corpus, model_kwargs, cfg = split_settings(settings)
    seed_everything(cfg.seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    tok, train_ids, val_ids = encode_corpus(corpus)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, **model_kwargs))
    rank, world_size = world()
    if rank == 0 and not quiet:
        peak = peak_flops(device)
        print(f"model: GPT, {num_params(model) / 1e6:.2f}M parameters, "
              f"{model.flops_per_token() / 1e6:.1f} MFLOP per token (forward + backward)")
        print(f"device: {describe(device)}, " + (f"peak {peak / 1e12:.0f} TFLOP/s (bf16/fp16)" if peak else
                                                 "peak FLOP/s unknown, so MFU n/a"))
        if world_size > 1:
            per = cfg.tokens_per_step
            print(f"data parallel: {world_size} processes ({dist.get_backend()}), each on its own batches of "
                  f"{per:,} tokens: {per * world_size:,} tokens per step in all")
        if device.type != "cuda" and cfg.compile:
            print("note: torch.compile on a CPU first compiles for a minute or more (--no-compile skips it); "
                  "for a CPU, --preset shakespeare-char-cpu is the right size")
    history = fit(model, train_ids, val_ids, cfg, device=device, progress=progress, plot=False, title=title,
                  tokenizer=tok, quiet=quiet, speed=True)
    return model, tok, history, val_ids


def parameter_spread(model: torch.nn.Module) -> float:
    """Under DDP: the largest difference between any process's parameters and rank 0's (0.0 when the
    processes stayed in step, as data-parallel training must keep them)."""
    flat = torch.cat([p.detach().flatten().double() for p in model.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    spread = (flat - ref).abs().max()
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    return spread.item()


def main(argv=None) -> int:
    from .generate import sample_text
    from .presets import format_preset, format_presets, get_preset, preset_for

    parser = settings_parser("python -m lmutils.train", "Train a GPT from a preset (see --list-presets). Started by torchrun "
                             "(torchrun --standalone --nproc_per_node=N -m lmutils.train ...) it trains "
                             "data-parallel on N GPUs, or N CPU processes with --device cpu.")
    parser.add_argument("--show", action="store_true", help="print the settings and stop")
    parser.add_argument("--sample", type=int, default=300, metavar="N",
                        help="characters to sample from the trained model at the end (0: none)")
    parser.add_argument("--prompt", default="\n", help="the text the sample starts from")
    args = parser.parse_args(argv)
    if args.list_presets:
        print(format_presets())
        return 0
    try:
        device, rank, world_size = start_processes(args.device)
    except (ValueError, RuntimeError) as err:  # no CUDA, too many processes, no process group
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        name = args.preset or preset_for(device)
        settings = get_preset(name, **overrides_from(args))
        if rank == 0:
            print(format_preset(name, settings))
        if args.show:
            return 0
        model, tok, history, _ = train_preset(settings, device, progress=not args.no_progress, title=name)
        if world_size > 1:
            spread = parameter_spread(model)
            if rank == 0:
                verdict = "identical" if spread == 0 else "DIFFERENT"
                print(f"the {world_size} processes hold {verdict} parameters (largest difference {spread:.1e})")
            if spread:
                return 1
        if rank == 0 and args.sample:
            text = sample_text(model.eval(), tok, args.prompt, args.sample, seed=settings.get("seed", 0))
            print("sample:\n" + text)
    except (ValueError, CheckpointError, TrainingOutOfMemory) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        if world_size > 1:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    from lmutils.train import main as _main  # run in the package's module, not a second copy named __main__

    sys.exit(_main())
