"""The training command, the counterpart of nanoGPT's train.py: a preset and overrides → the corpus, a GPTConfig
and a TrainConfig → fit(). Everything that can go wrong is checked before the first step.

    python -m lmutils.run --preset shakespeare-char-cpu            # a 0.42M-parameter GPT on a CPU
    python -m lmutils.run --corpus my_text.txt --checkpoint out/run.pt   # rerun the same command to resume
    torchrun --standalone --nproc_per_node=4 -m lmutils.run --preset shakespeare-char   # 4 GPUs (DDP)
    python -m lmutils.bench --preset shakespeare-char-cpu          # train, then a one-line summary

`python -m lmutils.train` is the same command. Every setting of the model and the training has an option
(--max-iters, --batch-size, --n-layer, --compile, ...: --help lists them), built from the dataclasses.
"""

import argparse
import math
import re
import resource
import sys
import time
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import torch

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, unwrap
from .data import CharTokenizer, load_corpus, split
from .device import DTYPES, capabilities, describe, seed_everything, synchronize
from .distributed import parameter_spread, split_batch, start_processes, world
from .generate import sample_text
from .models import GPT, GPTConfig, num_params
from .preflight import (Refused, check_checkpoint, check_fits, check_length, check_prompt, check_writable,
                        default_prompt, flag)
from .presets import PRESETS, format_preset, format_presets, get_preset, preset_for
from .progress import Printer, ProgressBar, Reporter
from .speed import format_speed, peak_flops
from .train import TrainConfig, TrainingOutOfMemory, evaluate, fit, overfitting

MODEL_KEYS = tuple(f.name for f in fields(GPTConfig) if f.name != "vocab_size")
TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig))


class Run(NamedTuple):
    """One run's settings, split (split_settings): its text, its model's and its training's."""
    corpus: str
    model: dict           # the model config's keyword arguments, without vocab_size
    train: TrainConfig


def split_settings(settings: dict, config=GPTConfig) -> Run:
    """One flat dict of settings (a preset's, or a notebook's in lmutils.course.sizes) → (corpus, the keyword
    arguments of `config` without vocab_size, TrainConfig). block_size is both the model's context and the length
    of the training windows; "preset", "model" and "about" are the table's own keys. An unknown key is an error."""
    model_keys = {f.name for f in fields(config)} - {"vocab_size"}
    if unknown := sorted(set(settings) - model_keys - set(TRAIN_KEYS) - {"corpus", "preset", "model", "about"}):
        raise ValueError(f"unknown setting(s) {', '.join(unknown)} for {config.__name__} and TrainConfig")
    return Run(settings.get("corpus", "shakespeare"), {k: v for k, v in settings.items() if k in model_keys},
               TrainConfig(**{k: v for k, v in settings.items() if k in TRAIN_KEYS}))


def with_flags(message: str) -> str:
    """A config's error message with the settings' names as the command's options (min_lr → --min-lr)."""
    return re.sub(rf"\b({'|'.join(MODEL_KEYS + TRAIN_KEYS)})\b", lambda m: flag(m[1]), message)


# --- the options -----------------------------------------------------------------------------------

HELP = {
    "max_iters": "optimizer steps; lr_decay_iters and warmup_iters follow it unless given too",
    "batch_size": "sequences per micro-batch. Under torchrun the N processes share out the batch_size × "
                  "grad_accum sequences of each step (grad_accum/N micro-batches each, or micro-batches of "
                  "batch_size/N): a step trains on as many sequences as on one process",
    "grad_accum": "micro-batches per optimizer step (gradient accumulation)",
    "checkpoint": "saved every checkpoint_interval steps, the best weights by validation loss beside it "
                  "(NAME.best.pt); a rerun with the same path resumes from it",
    "early_stop": "stop when the validation loss has risen well above its best (over-fitting)",
}


def settings_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Options shared by the commands: --preset, --device and one option per setting of the model and the
    training (--max-iters, --batch-size, --n-layer, --compile, ...)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--preset", help=f"one of: {', '.join(PRESETS)} (default: the one that suits the device)")
    parser.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best one available)")
    parser.add_argument("--list-presets", action="store_true", help="list the presets and stop")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--allow-new-data", action="store_true", help="resume a checkpoint on another text than "
                        "it was trained on, on purpose (fine-tuning; the text must use the checkpoint's characters)")
    parser.add_argument("--allow-new-schedule", action="store_true", help="resume a checkpoint with other "
                        "training settings (learning rate, schedule, batch) than it was trained with, on purpose")
    group = parser.add_argument_group("settings", "override the preset's values (see lmutils.presets)")
    group.add_argument("--corpus", default=argparse.SUPPRESS, help="shakespeare, tang, or the path of a text file")
    types = {f.name: f.type for f in fields(GPTConfig) if f.name in MODEL_KEYS}
    types |= {f.name: f.type for f in fields(TrainConfig)}
    for name, typ in types.items():
        if typ is bool:
            group.add_argument(flag(name), action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=HELP.get(name))
        else:
            group.add_argument(flag(name), type=value_parser(typ), default=argparse.SUPPRESS, help=HELP.get(name),
                               choices=list(DTYPES) if name == "dtype" else None)
    return parser


def value_parser(typ):
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
    known = {"corpus", *MODEL_KEYS, *TRAIN_KEYS}
    return {k: v for k, v in vars(args).items() if k in known}


# --- checks before training --------------------------------------------------------------------------

def check_settings(settings: dict, device: torch.device) -> Run:
    """The settings as configs, or Refused with what to change: non-finite or nonsensical values, a warm-up
    longer than the run, a learning rate below min_lr, float16 on a CPU."""
    s = settings
    if s["min_lr"] is not None and s["learning_rate"] < s["min_lr"]:
        raise Refused(f"--learning-rate {s['learning_rate']:g} is below --min-lr {s['min_lr']:g}: the cosine "
                      "schedule would raise the rate as it decays. Give a --min-lr below it too, e.g. "
                      f"--min-lr {s['learning_rate'] / 10:g} (a tenth)")
    decay_end = s["lr_decay_iters"] or s["max_iters"]
    if isinstance(s["warmup_iters"], int) and isinstance(decay_end, int) and s["warmup_iters"] >= decay_end > 0:
        raise Refused(f"--warmup-iters {s['warmup_iters']} is not shorter than the run ({decay_end} steps): the "
                      "learning rate would still be rising when it should be decaying. Give --warmup-iters "
                      f"{decay_end // 10} (a tenth of the run) or fewer")
    try:
        run = split_settings(s)
        GPTConfig(vocab_size=1, **run.model)
    except ValueError as err:
        raise Refused(with_flags(str(err))) from None
    if device.type == "cpu" and run.train.dtype == "float16":
        raise Refused("--dtype float16 on a CPU: a CPU has no fast float16 arithmetic, and autocast to it made "
                      "training about 25 times slower than float32 on the course's test machine (2 cores). "
                      "Use --dtype float32 (or auto, which is float32 on a CPU)")
    return run


# --- training ----------------------------------------------------------------------------------------

def best_path(checkpoint) -> Path:
    """Where the best weights by validation loss are kept beside a checkpoint: run.pt → run.best.pt."""
    p = Path(checkpoint)
    return p.with_name(f"{p.stem}.best{p.suffix or '.pt'}")


class KeepBest(Reporter):
    """Keeps the weights of the best validation loss so far: in memory and, with a checkpoint, in NAME.best.pt
    (weights and tokenizer: load_model reads it)."""

    def __init__(self, model, cfg: TrainConfig, tokenizer):
        self.model, self.cfg, self.tokenizer = model, cfg, tokenizer
        self.path = best_path(cfg.checkpoint) if cfg.checkpoint else None
        self.step, self.val, self.weights = None, math.inf, None

    def start(self, history, step, max_iters):
        if history.eval_val:  # resumed: the best so far was saved then
            self.val = min(history.eval_val)
            self.step = history.eval_steps[history.eval_val.index(self.val)]

    def evaluated(self, step, train_loss, val_loss, speed):
        if val_loss < self.val:
            self.step, self.val = step, val_loss
            self.weights = {k: v.detach().clone() for k, v in unwrap(self.model).state_dict().items()}
            if self.path:
                save_checkpoint(self.path, self.model, step=step, cfg=self.cfg, tokenizer=self.tokenizer)

    def load(self) -> bool:
        """Put the best weights into the model (from memory, or from the file); False where there are none."""
        if self.weights is None and self.path and self.path.is_file():
            self.weights = load_checkpoint(self.path)["model"]
        if self.weights is None:
            return False
        unwrap(self.model).load_state_dict(self.weights)
        return True


@dataclass
class Plan:
    """What the checks settled: the run that will train."""
    corpus: str
    tokenizer: CharTokenizer
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    model: dict            # GPTConfig's keyword arguments without vocab_size
    cfg: TrainConfig
    text: str
    notes: list            # to tell the user before training


def prepare(settings: dict, device: torch.device, given: set = frozenset(), allow_new_data: bool = False,
            allow_new_schedule: bool = False) -> Plan:
    """Check everything that can be checked before training (Refused, or CheckpointError, say what to do) and
    settle the run: the text and its tokenizer, the configs, and, resuming, the checkpoint's tokenizer and
    schedule. given: the settings given on the command line (the others may follow the checkpoint)."""
    corpus, model_kw, cfg = check_settings(settings, device)
    rank, world_size = world()
    if cfg.checkpoint and rank == 0:
        check_writable(cfg.checkpoint, "--checkpoint")
    text = load_corpus(corpus)
    if not text:
        raise Refused(f"the text {corpus} is empty: give a text to train on")
    tok, notes = CharTokenizer.from_text(text), []
    n_train = int(len(text) * 0.9)
    check_length(len(text), len(text) - n_train, cfg.block_size)
    if cfg.checkpoint and Path(cfg.checkpoint).exists():
        tok, cfg, notes = check_checkpoint(load_checkpoint(cfg.checkpoint), text, tok, model_kw, cfg, corpus, given,
                                           allow_new_data, allow_new_schedule)
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    train_ids, val_ids = split(ids)
    c = GPTConfig(vocab_size=tok.vocab_size, **model_kw)
    notes += check_fits(c, cfg, device, world_size)
    passes = cfg.max_iters * cfg.tokens_per_step / len(train_ids)
    notes.insert(0, f"data: {corpus}, {len(train_ids):,} characters to train on, {len(val_ids):,} to validate on; "
                    f"{cfg.max_iters:,} steps × {cfg.tokens_per_step:,} tokens = {passes:.3g} passes over the "
                    "training text")
    if passes > 20:
        notes.insert(1, f"note: {passes:,.0f} passes over the same text is many: the model may learn it by heart "
                        "(over-fit). The validation loss will tell (a warning comes if it rises well above its best; "
                        "--early-stop stops there): a longer text, fewer --max-iters or more --dropout help")
    if device.type == "cpu" and cfg.dtype == "bfloat16":
        notes.append("note: --dtype bfloat16 on a CPU is fast only on CPUs with bfloat16 instructions (AMX, "
                     "AVX-512 BF16); elsewhere slower than float32, and never more accurate. --dtype float32 is "
                     "the CPU's usual choice")
    return Plan(corpus, tok, train_ids, val_ids, model_kw, cfg, text, notes)


def train(plan: Plan, device: torch.device, progress: bool = True, quiet: bool = False, title: str = ""):
    """Build the plan's GPT and fit() it; returns (model, history, KeepBest)."""
    cfg, tok = plan.cfg, plan.tokenizer
    seed_everything(cfg.seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, **plan.model))
    rank, world_size = world()
    if rank == 0 and not quiet:
        peak = peak_flops(device)
        print(f"model: GPT, {num_params(model) / 1e6:.2f}M parameters, "
              f"{model.flops_per_token(cfg.block_size) / 1e6:.1f} MFLOP per token (forward + backward)")
        print(f"device: {describe(device)}, " + (f"peak {peak / 1e12:.0f} TFLOP/s (bf16/fp16)" if peak else
                                                 "peak FLOP/s unknown, so MFU n/a"))
        if world_size > 1:
            batch, accum = split_batch(cfg.batch_size, cfg.grad_accum, world_size)
            print(f"data parallel: {world_size} processes ({torch.distributed.get_backend()}), each "
                  f"{accum} micro-batch(es) of {batch} × {cfg.block_size} tokens per step: "
                  f"{cfg.tokens_per_step:,} tokens per step in all, as on one process")
        if device.type == "cpu" and cfg.compile and capabilities(device).can_compile:
            print("note: torch.compile on a CPU first compiles for a minute or more (--no-compile skips it); "
                  "for a CPU, --preset shakespeare-char-cpu is the right size")
    best = KeepBest(model, cfg, tok)
    shown = Reporter() if quiet else ProgressBar(title or "training", speed=True) if progress else Printer(speed=True)
    history = fit(model, plan.train_ids, plan.val_ids, cfg, device=device, report=[shown, best], tokenizer=tok)
    return model, history, best


def train_preset(settings: dict, device: torch.device, progress: bool = True, quiet: bool = False, title: str = "",
                 **checks):
    """Check a preset's settings (prepare, with checks: its keyword arguments), build its GPT and fit() it on its
    corpus; returns (model, tokenizer, history, validation token ids)."""
    plan = prepare(settings, device, **checks)
    if world()[0] == 0 and not quiet:
        print("\n".join(plan.notes))
    model, history, _ = train(plan, device, progress, quiet, title)
    return model, plan.tokenizer, history, plan.val_ids


def peak_memory(device) -> tuple[float, str]:
    """(bytes, what was measured): CUDA's peak allocated memory, or this process's peak resident set size."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device), "GPU peak"
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kib * (1 if sys.platform == "darwin" else 1024), "RSS peak"


def summary(name, device, model, history, val_split: float, seconds: float) -> str:
    """The bench's one line: preset, device, parameters, steps, wall time (everything: data, compilation,
    evaluation), training tokens/s and MFU, the last train/validation loss estimates, the validation loss over the
    whole split, and peak memory (CUDA's peak allocation on a GPU, the process's peak resident size on a CPU)."""
    mem, what = peak_memory(device)
    return (f"bench {name} | {device.type} | {num_params(model) / 1e6:.2f}M params | {history.steps[-1]} steps | "
            f"{seconds:.1f} s | {format_speed(history.tokens_per_s, history.mfu)} | "
            f"train {history.eval_train[-1]:.4f} | val {history.eval_val[-1]:.4f} | "
            f"val (whole split) {val_split:.4f}, perplexity {math.exp(val_split):.2f} | "
            f"{what} {mem / 2**20:,.0f} MiB")


# --- the commands ------------------------------------------------------------------------------------

def start(args) -> tuple[torch.device, int, int, str, dict]:
    """Join the processes, pick the device and the preset: (device, rank, world_size, preset name, settings)."""
    try:
        device, rank, world_size = start_processes(args.device)
    except RuntimeError as err:  # no CUDA, no process group
        raise Refused(str(err)) from None
    name = args.preset or preset_for(device)
    return device, rank, world_size, name, get_preset(name, **overrides_from(args))


def main(argv=None, prog: str = "python -m lmutils.run") -> int:
    """python -m lmutils.run (and python -m lmutils.train)"""
    parser = settings_parser(prog, "Train a GPT from a preset (see --list-presets) on a corpus or a text file of "
                             "your own. Started by torchrun (torchrun --standalone --nproc_per_node=N -m lmutils.run "
                             "...) it trains data-parallel on N GPUs, or N CPU processes with --device cpu; the N "
                             "processes share each step's batch (see --batch-size), so the run is the one-process "
                             "run, faster.")
    parser.add_argument("--show", action="store_true", help="check the settings and the text, print them, and stop")
    parser.add_argument("--sample", type=int, default=300, metavar="N",
                        help="characters to sample from the trained model at the end (0: none)")
    parser.add_argument("--prompt", default=None, help="the text the sample starts from (default: a newline, or the "
                        "text's first character where it has no newline)")
    parser.add_argument("--export", metavar="PATH", help="at the end, also save the weights and tokenizer alone "
                        "(a third of --checkpoint's size: no optimizer state, so it cannot be resumed); "
                        "lmutils.checkpoint.load_model(PATH) loads it")
    args = parser.parse_args(argv)
    if args.list_presets:
        print(format_presets())
        return 0
    world_size = 1
    try:
        device, rank, world_size, name, settings = start(args)
        if rank == 0:
            print(format_preset(name, settings))
        if args.sample < 0:
            raise Refused(f"--sample must be 0 (no sample) or a number of characters to sample, got {args.sample}")
        if args.export and rank == 0:
            check_writable(args.export, "--export")
        plan = prepare(settings, device, set(overrides_from(args)), args.allow_new_data, args.allow_new_schedule)
        prompt = default_prompt(plan.text) if args.prompt is None else args.prompt
        if args.sample:
            check_prompt(prompt, plan.tokenizer, plan.text)
        if rank == 0:
            print("\n".join(plan.notes))
        if args.show:
            return 0
        model, history, best = train(plan, device, progress=not args.no_progress, title=name)
        if world_size > 1:
            spread = parameter_spread(model)
            if rank == 0:
                verdict = "identical" if spread == 0 else "DIFFERENT"
                print(f"the {world_size} processes hold {verdict} parameters (largest difference {spread:.1e})")
            if spread:
                return 1
        if rank == 0 and args.export:
            # the last evaluated step is where training stopped, a resumed run's included
            path = save_checkpoint(args.export, model, step=history.eval_steps[-1], cfg=plan.cfg,
                                   tokenizer=plan.tokenizer)
            print(f"exported the weights to {path} ({path.stat().st_size / 1e6:.2f} MB)")
        if rank == 0 and best.path and best.step is not None:
            print(f"the best weights (validation loss {best.val:.4f}, step {best.step}) are in {best.path}")
        if rank == 0 and args.sample:
            which = ""
            if overfitting([best.val, history.eval_val[-1]]) and best.step == 0:
                print("note: the validation loss was lowest before training (step 0): nothing the model learnt from "
                      "the training text carried over to the validation text. Give a longer text, or a smaller model "
                      "(--n-layer, --n-embd) and fewer --max-iters")
                which = " (from the last weights, which over-fit: the best ones are the untrained model's)"
            elif overfitting([best.val, history.eval_val[-1]]) and best.load():
                which = f" (from the weights of step {best.step}, the best validation loss: the last ones over-fit)"
            text = sample_text(model.eval(), plan.tokenizer, prompt, args.sample, seed=settings.get("seed", 0))
            print(f"sample{which}:\n" + text)
        if world_size > 1:
            torch.distributed.barrier()  # no process tears the group down while another still uses it
    except (ValueError, CheckpointError, TrainingOutOfMemory) as err:
        # ValueError: Refused, an unknown preset or setting, a text that is not UTF-8
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted" + (": rerun the same command to resume from the last checkpoint" if
                                 vars(args).get("checkpoint") else ""), file=sys.stderr)
        return 130
    finally:
        if world_size > 1:
            torch.distributed.destroy_process_group()
    return 0


def bench_main(argv=None) -> int:
    """python -m lmutils.bench"""
    parser = settings_parser("python -m lmutils.bench", "Train a preset and print a one-line summary (the GPU "
                             "report of the whole course: python -m lmutils.course.report).")
    parser.add_argument("--quiet", action="store_true", help="print the summary line only")
    argv = sys.argv[1:] if argv is None else argv
    if "--report" in argv:
        print("error: the GPU report is its own command now: python -m lmutils.course.report (make gpu-report)",
              file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if args.list_presets:
        print(format_presets())
        return 0
    try:
        device, _, _, name, settings = start(args)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        model, _, history, val_ids = train_preset(settings, device, progress=not (args.no_progress or args.quiet),
                                                  quiet=args.quiet, title=name, given=set(overrides_from(args)),
                                                  allow_new_data=args.allow_new_data,
                                                  allow_new_schedule=args.allow_new_schedule)
    except (ValueError, CheckpointError, TrainingOutOfMemory) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    synchronize(device)
    seconds = time.perf_counter() - t0
    val_split = evaluate(model, val_ids, settings["block_size"])
    print(summary(name, device, model, history, val_split, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
