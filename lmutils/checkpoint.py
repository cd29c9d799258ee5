"""Checkpoints: save a training run, resume it exactly, rebuild a trained model.

A checkpoint is one file holding plain data only (tensors, numbers, strings), so it loads with
torch.load(weights_only=True): opening it runs no code. It is written atomically (save_atomic): to a temporary
file first, flushed to the disk, then renamed over the old one, so an interruption never leaves a half-written
checkpoint.
"""

import hashlib
import os
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from .data import CharTokenizer, ChatTokenizer, WordTokenizer
from .distributed import gather, world
from .models import build_model, full_spec, model_spec

FORMAT = "lmutils-checkpoint-1"
TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer, "chat": ChatTokenizer}


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, unreadable, or from another model."""


def temporary_path(path) -> Path:
    """Where atomic_file writes path before renaming it: beside it, path + ".tmp"."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


@contextmanager
def atomic_file(path):
    """A binary file to write `path` through: a temporary file beside it, flushed to the disk (fsync) and renamed
    over path when the block ends, so that a crash or a full disk leaves the old file whole. After an error the
    temporary file is removed and path is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_atomic(obj, path) -> Path:
    """torch.save(obj, path), atomically (atomic_file). Returns the path."""
    with atomic_file(path) as f:
        torch.save(obj, f)
    return Path(path)


def data_fingerprint(*splits: torch.Tensor) -> str:
    """A short hash of token ids (a training run's splits): a checkpoint keeps it, so that a resumed run can tell
    whether it is given the text it was trained on."""
    h = hashlib.sha256()
    for ids in splits:
        h.update(ids.to(torch.int64).cpu().numpy().tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model itself, out of DistributedDataParallel (.module) and torch.compile (._orig_mod)."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def rng_states(batch_gen: torch.Generator | None, device) -> dict:
    """This process's random states: its batches, its dropout masks on the CPU and, training on a GPU,
    on the GPU (dropout there draws from the GPU's generator)."""
    device = torch.device(device)
    return {"batch": batch_gen.get_state() if batch_gen else None, "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def set_rng_states(states: dict, batch_gen: torch.Generator, device) -> None:
    """The inverse of rng_states."""
    if states.get("batch") is not None:
        batch_gen.set_state(states["batch"])
    torch.set_rng_state(states["torch"])
    if states.get("cuda") is not None and torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(states["cuda"], device)


def save_checkpoint(path, model, optimizer=None, scaler=None, step: int = 0, cfg=None, history=None,
                    rng: list | None = None, tokenizer=None, data: str | None = None) -> Path:
    """Write a checkpoint atomically. cfg: the TrainConfig; rng: every process's rng_states (one per process,
    rank 0 first); tokenizer: a CharTokenizer or WordTokenizer, saved so that load_model can rebuild it;
    data: the data_fingerprint of the text trained on."""
    model = unwrap(model)
    state = {
        "format": FORMAT,
        "model_spec": model_spec(model),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scaler": scaler.state_dict() if scaler else None,
        "step": step,
        "train_config": asdict(cfg) if cfg else None,
        "history": asdict(history) if history else None,
        "rng": {"ranks": rng or [rng_states(None, "cpu")]},
        "tokenizer": tokenizer.state_dict() if tokenizer else None,  # its "kind" says which class
        "data": data,
    }
    return save_atomic(state, path)


def save_run(cfg, model, optimizer, scaler, step: int, history, batch_gen, device, tokenizer=None,
             data: str | None = None) -> None:
    """fit()'s checkpoint at cfg.checkpoint, written by rank 0, with every process's random states."""
    rank, world_size = world()
    rng = gather(rng_states(batch_gen, device)) if world_size > 1 else [rng_states(batch_gen, device)]
    if rank == 0:
        save_checkpoint(cfg.checkpoint, model, optimizer, scaler, step, cfg, history, rng, tokenizer, data)


def first_words(text: str, limit: int = 200) -> str:
    """text's first line, cut at a word boundary to at most limit characters (with … where cut)."""
    line = text.strip().split("\n", 1)[0]
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + " …"


def load_state(path, map_location="cpu"):
    """Whatever torch.save wrote at path, read with weights_only=True (tensors and plain data only: opening it
    runs no code), with clear errors for a missing or unreadable file."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint: give the path of a file in it, e.g. "
                              f"{path / 'run.pt'}")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: check the path, or train first to create it")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}: {first_words(str(err))}). "
                              "It is probably truncated (an interrupted copy or a full disk) or not a checkpoint "
                              "at all: delete it to start afresh, or use an earlier copy.") from None


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read an lmutils checkpoint (load_state), refusing any other file."""
    path = Path(path)
    state = load_state(path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not an lmutils checkpoint (no 'format' entry)")
    return state


def restore_model(state: dict, model: torch.nn.Module) -> None:
    """Load a checkpoint's weights into model, refusing one saved from a different kind or shape."""
    model = unwrap(model)
    want, have = full_spec(state["model_spec"]), model_spec(model)
    if want != have:
        diff = [f"{k}={want['config'].get(k)} (this model: {v})" for k, v in have["config"].items()
                if want["config"].get(k) != v]
        what = f"a {want['kind']} model" if want["kind"] != have["kind"] else ", ".join(diff)
        raise CheckpointError(f"the checkpoint was saved from a different model: {what}. Build the model with the "
                              "checkpoint's settings (lmutils.checkpoint.load_model(path) does that), or give this "
                              "run a new checkpoint path.")
    model.load_state_dict(state["model"])


def check_resumable(state: dict) -> None:
    """A checkpoint of weights alone (an export, a best checkpoint) has no training run to continue."""
    if state["optimizer"] is None or state["history"] is None:
        raise CheckpointError("the checkpoint holds a model but no training run (no optimizer state): it cannot be "
                              "resumed. Give this run a new checkpoint path; restore_model loads its weights.")


def restore(state: dict, model, optimizer, scaler, batch_gen: torch.Generator, device, rank: int = 0,
            world_size: int = 1) -> list[str]:
    """Put a training run back where the checkpoint left it: weights, optimizer, gradient scaler and this
    process's random states. Returns notes for the user about what could not continue exactly."""
    notes = []
    restore_model(state, model)
    check_resumable(state)
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"the checkpoint's optimizer state does not fit this run's optimizer ({err}). Was it "
                              "trained with another --optimizer (adamw or muon)? Resume with the checkpoint's "
                              "settings, or give this run a new checkpoint path.") from None
    if scaler.is_enabled() and not state["scaler"]:
        notes.append("the checkpoint was trained without float16's gradient scaler: starting a fresh one")
    else:
        scaler.load_state_dict(state["scaler"])
    ranks = state["rng"].get("ranks") or [state["rng"]]
    if rank < len(ranks):
        set_rng_states(ranks[rank], batch_gen, device)
    if len(ranks) != world_size:
        notes.append(f"saved by {len(ranks)} process(es), resumed by {world_size}: the weights and optimizer "
                     "continue exactly, the random batches do not")
    return notes


def resume(path, model, optimizer, scaler, batch_gen: torch.Generator, device, say=print) -> tuple[dict, int]:
    """Restore a training run from the checkpoint at path (see restore); returns (its history, its step)."""
    state = load_checkpoint(path)
    notes = restore(state, model, optimizer, scaler, batch_gen, device, *world())
    say(f"resumed from {path} at step {state['step']}")
    for note in notes:
        say(f"({note})")
    return state["history"], state["step"]


def load_tokenizer(state: dict | None):
    """A tokenizer rebuilt from its state_dict (None for None)."""
    if state is None:
        return None
    kind = state.get("kind", "char")
    if kind not in TOKENIZERS:
        raise CheckpointError(f"the checkpoint's tokenizer is of an unknown kind {kind!r}: known kinds are "
                              f"{', '.join(TOKENIZERS)}. Was it saved by a newer lmutils? Update lmutils.")
    return TOKENIZERS[kind].from_state_dict(state)


def load_model(path, device=None):
    """Rebuild a trained model (and its tokenizer, if saved) from a checkpoint: returns (model, tokenizer)."""
    state = load_checkpoint(path)
    model = build_model(state["model_spec"])
    model.load_state_dict(state["model"])
    return model.to(device or "cpu").eval(), load_tokenizer(state.get("tokenizer"))
