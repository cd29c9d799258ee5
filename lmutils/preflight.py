"""The training command's checks before training (lmutils.run): each gives the user a message that names the setting
and what to do, so that no run trains on input that cannot work, and none is lost after training has started.

    check_writable(path, "--checkpoint")      # a file can be written there: not a folder, not under a file
    check_length(n_chars, n_val, block_size)  # the text is longer than the context, in both splits
    check_prompt(prompt, tokenizer, text)     # the sample's prompt is made of the text's characters
    check_checkpoint(state, ...)              # a resume trains the same model on the same text, or refuses
    check_fits(config, cfg, device)           # a step fits in the machine's memory (an estimate), and how long it takes
"""

import os
import time
from dataclasses import replace
from pathlib import Path

import torch

from .checkpoint import check_resumable, data_fingerprint, load_tokenizer, temporary_path
from .data import split
from .distributed import split_batch
from .models import GPTConfig
from .train import TrainConfig, lr_at


class Refused(ValueError):
    """Settings, a text or a checkpoint the command will not train on; the message says what to do instead."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_writable(path, option: str) -> Path:
    """Make sure a file can be written at path before training starts (the run is lost otherwise): not a folder,
    not under a file, in a folder we may write to. Creates and removes the temporary file a save writes first."""
    path = Path(path)
    if path.is_dir():
        raise Refused(f"{option} {path} is a folder: give the path of a file in it, e.g. {option} {path / 'run.pt'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_path(path)
        with open(tmp, "wb"):
            pass
        tmp.unlink()
    except (FileExistsError, NotADirectoryError):
        above = next(p for p in path.parents if p.exists())
        raise Refused(f"{option} {path} cannot be written: {above} is a file, not a folder. Give a path in a "
                      "folder, e.g. out/run.pt") from None
    except OSError as err:
        raise Refused(f"{option} {path} cannot be written ({err.strerror or type(err).__name__}): give a path in a "
                      "folder you may write to, e.g. out/run.pt") from None
    return path


def shortest_text(block_size: int) -> int:
    """The fewest characters whose validation part (the last 10 %) is longer than a context of block_size."""
    return next(n for n in range(max(1, 10 * block_size - 10), 10 * block_size + 20) if n - int(0.9 * n) > block_size)


def check_length(n_chars: int, n_val: int, block_size: int) -> None:
    """The text must be longer than the context in both splits: a window of block_size + 1 characters."""
    if block_size < n_val:
        return
    need = shortest_text(block_size)
    if n_val < 2:
        raise Refused(f"the text is too short to train on: {n_chars} character(s). Training reads its first 90 % and "
                      "validates on the last 10 %, and each part must be longer than the context: give a text of at "
                      f"least {need:,} characters for --block-size {block_size} (at least {shortest_text(1)} for "
                      "--block-size 1)")
    raise Refused(f"the text is too short for --block-size {block_size}: its validation part (the last 10 % of its "
                  f"{n_chars:,} characters) has {n_val}, and a window of the context and the character after it needs "
                  f"{block_size + 1}. Lower --block-size to at most {n_val - 1}, or give a longer text (at least "
                  f"{need:,} characters)")


def default_prompt(text: str) -> str:
    """The sample's default start: a newline where the text has them (the start of a line), else its first
    character."""
    return "\n" if "\n" in text else text[0]


def check_prompt(prompt: str, tok, text: str) -> None:
    """The sample's prompt, before training: not empty, and made of the text's characters."""
    if not prompt:
        raise Refused("--prompt is empty: give at least one character of the text, or leave --prompt out")
    missing = sorted({c for c in prompt if c not in tok.stoi})
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10]) + (" …" if len(missing) > 10 else "")
        example = text.strip()[:6] or text[:1]
        raise Refused(f"--prompt {prompt!r} has {len(missing)} character(s) that the text never uses: {shown}. The "
                      f"model only knows the text's {tok.vocab_size:,} characters: give a prompt made of them "
                      f"(e.g. --prompt {example!r}), or leave --prompt out")


def compare_tokenizers(saved, tok) -> str:
    """What differs between two character tokenizers, in words ('' when they are the same)."""
    if saved.state_dict() == tok.state_dict():
        return ""
    old, new = set(saved.itos), set(tok.itos)
    parts = []
    if old - new:
        gone = sorted(old - new)
        parts.append(f"{len(gone)} of its {len(old)} characters {'is' if len(gone) == 1 else 'are'} not in this "
                     f"text ({', '.join(map(repr, gone[:8]))})")
    if new - old:
        parts.append(f"this text has {len(new - old)} it never saw ({', '.join(map(repr, sorted(new - old)[:8]))})")
    return "; ".join(parts) or "the same characters in another order"


RESUMED_KEYS = ("learning_rate", "min_lr", "warmup_iters", "lr_decay_iters", "batch_size", "block_size",
                "grad_accum", "weight_decay", "beta1", "beta2", "grad_clip")  # what a resumed run must keep


def check_resume(state: dict, cfg: TrainConfig, given: set, allow_new_schedule: bool) -> tuple[TrainConfig, list]:
    """The TrainConfig a resumed run trains with, and notes for the user. Settings the user did not give keep
    the checkpoint's schedule (a longer max_iters extends the run on it); other differences are refused unless
    allow_new_schedule."""
    saved, notes = dict(state["train_config"]), []
    saved["lr_decay_iters"] = saved["lr_decay_iters"] or saved["max_iters"]  # None: the decay ended with the run
    kept = {k: saved[k] for k in ("warmup_iters", "lr_decay_iters") if k not in given and saved[k] != getattr(cfg, k)}
    cfg = replace(cfg, **kept)
    if cfg.max_iters != saved["max_iters"]:
        step, end = state["step"], cfg.lr_decay_iters or cfg.max_iters
        kept_schedule = end == saved["lr_decay_iters"]
        how = "the checkpoint's schedule" if kept_schedule else f"a cosine decay that now ends at step {end}"
        if end <= step:
            then = f"its decay ended at step {end}, so it trains on at the final rate, {lr_at(end, cfg):.3g}"
        else:
            then = f"the rate goes on from {lr_at(step, cfg):.3g} at step {step} to {lr_at(end, cfg):.3g} at step {end}"
        stretch = kept_schedule and end != cfg.max_iters
        notes.append(f"{'extending' if cfg.max_iters > saved['max_iters'] else 'shortening'} the run from "
                     f"{saved['max_iters']} to {cfg.max_iters} steps on {how}: {then}"
                     + (f" (--lr-decay-iters {cfg.max_iters} --allow-new-schedule stretches the decay over the new "
                        "length)" if stretch else ""))
    changed = [f"{flag(k)} {saved[k]} (this run: {getattr(cfg, k)})" for k in RESUMED_KEYS
               if saved.get(k) != getattr(cfg, k)]
    if changed and not allow_new_schedule:
        raise Refused(f"the checkpoint was trained with other settings: {', '.join(changed)}. Resuming with these "
                      "would not continue the same run: give the checkpoint's values, a new --checkpoint path to "
                      "start afresh, or --allow-new-schedule to change them on purpose")
    if changed:
        notes.append(f"changing the run's settings at step {state['step']} (--allow-new-schedule): "
                     + ", ".join(changed))
    return cfg, notes


def check_checkpoint(state: dict, text: str, tok, model_kw: dict, cfg: TrainConfig, corpus: str, given: set,
                     allow_new_data: bool, allow_new_schedule: bool) -> tuple:
    """A checkpoint to resume, against this run: the same characters, the same text, the same model, a training run
    (not weights alone) and the same schedule, or Refused. Returns (the tokenizer, the TrainConfig, notes)."""
    path = cfg.checkpoint
    saved = load_tokenizer(state.get("tokenizer"))
    if saved is not None and (diff := compare_tokenizers(saved, tok)):
        if not allow_new_data:
            raise Refused(f"the checkpoint {path} was trained on another text: {diff}. Resuming would give the ids "
                          "other meanings. Give the --corpus it was trained on, a new --checkpoint path to start "
                          "afresh, or --allow-new-data to train it on this text on purpose")
        if missing := sorted(set(text) - set(saved.itos)):
            raise Refused(f"--allow-new-data: this text has {len(missing)} character(s) the checkpoint's model never "
                          f"saw ({', '.join(map(repr, missing[:8]))}), so it cannot be trained on it: remove them from "
                          "the text, or start afresh with a new --checkpoint path")
        tok = saved
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    if state.get("data") and state["data"] != data_fingerprint(*split(ids)) and not allow_new_data:
        raise Refused(f"the checkpoint {path} was trained on another text than {corpus} (the same characters, other "
                      "contents). Give the --corpus it was trained on, a new --checkpoint path to start afresh, or "
                      "--allow-new-data to train it on this text on purpose")
    if state["model_spec"]["kind"] != "gpt":
        raise Refused(f"the checkpoint {path} holds a {state['model_spec']['kind']} model, not a GPT: give a new "
                      "--checkpoint path to start afresh")
    want = state["model_spec"]["config"]
    if diff := [f"{flag(k)} {want[k]} (this run: {v})" for k, v in model_kw.items() if want.get(k) != v]:
        raise Refused(f"the checkpoint {path} holds another model: {', '.join(diff)}. Give the checkpoint's model "
                      "settings, or a new --checkpoint path to start afresh")
    check_resumable(state)
    cfg, notes = check_resume(state, cfg, given, allow_new_schedule)
    return tok, cfg, notes


def machine_memory(device: torch.device) -> int | None:
    """Bytes of memory a run can use: the GPU's, or this machine's RAM (None where unknown)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows
        return None


def gpt_params(c: GPTConfig) -> int:
    """A GPTConfig's parameter count, without building it (token embedding and head shared)."""
    bias = c.bias * (3 + 1 + 4 + 1 + 2)  # qkv, proj, fc, proj; the two layer norms' biases
    return c.vocab_size * c.n_embd + c.block_size * c.n_embd + c.n_embd * (1 + c.bias) + \
        c.n_layer * (12 * c.n_embd ** 2 + c.n_embd * (2 + bias))


def step_cost(c: GPTConfig, cfg: TrainConfig, world_size: int = 1) -> tuple[float, float]:
    """(bytes, FLOPs) of one optimizer step of a GPT, estimated: the weights, their gradients and AdamW's two
    moments (16 bytes a parameter), and the activations one micro-batch keeps for the backward pass (about 68
    bytes per layer and width per token in float32, as in Korthikanti et al. 2022, with fused attention; and the
    logits); FLOPs as in GPT.flops_per_token."""
    batch, _ = split_batch(cfg.batch_size, cfg.grad_accum, world_size)
    n = gpt_params(c)
    per_token = 4 * (17 * c.n_layer * c.n_embd + 3 * c.vocab_size + 2 * c.n_embd)
    flops = 6 * (n - c.block_size * c.n_embd) + 12 * c.n_layer * cfg.block_size * c.n_embd
    return 16 * n + per_token * batch * cfg.block_size, flops * cfg.tokens_per_step


def measured_flops(device: torch.device) -> float:
    """FLOP/s of float32 matrix products on this device, measured in a few milliseconds (training reaches a part
    of it)."""
    a, b = torch.randn(512, 512, device=device), torch.randn(512, 512, device=device)
    a @ b
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(8):
        a @ b
    sync()
    return 8 * 2 * 512 ** 3 / (time.perf_counter() - t0)


def check_fits(c: GPTConfig, cfg: TrainConfig, device: torch.device, world_size: int = 1) -> list[str]:
    """Refused when a step cannot fit in the machine's memory; warnings when it nearly does, or when a step
    would take a long time."""
    need, flops = step_cost(c, cfg, world_size)
    have, notes = machine_memory(device), []
    where = "the GPU" if device.type == "cuda" else "this machine"
    what = (f"a step of this run (--block-size {cfg.block_size}, --batch-size {cfg.batch_size}, "
            f"{gpt_params(c) / 1e6:.1f}M parameters) needs about {need / 2**30:,.1f} GiB of memory")
    advice = "lower --block-size or --batch-size (raise --grad-accum to keep the tokens per step), or the model's size"
    if have and need > have:
        raise Refused(f"{what}, and {where} has {have / 2**30:,.1f} GiB: {advice}")
    if have and need > 0.6 * have:
        notes.append(f"{what}, of the {have / 2**30:,.1f} GiB {where} has: it may not fit; if it fails, {advice}")
    if flops > 1e11:  # else a step takes well under a second anywhere
        seconds = flops / (0.5 * measured_flops(device))
        if seconds > 10:
            notes.append(f"one step is {flops / 1e12:,.1f} TFLOP: at this device's speed roughly {seconds:,.0f} s a "
                         f"step, {seconds * cfg.max_iters / 3600:,.1f} hours for {cfg.max_iters:,} steps. Attention's "
                         "cost grows with the square of --block-size: lower it, or the model's size")
    return notes
