"""The commands `python -m lmutils.train` and `python -m lmutils.bench`: their options and what they run.

Both take a preset (lmutils.presets) and one option per setting to override it (--max-iters, --batch-size,
--n-layer, --compile, ...). Started by torchrun, they train data-parallel:

    python -m lmutils.train --preset shakespeare-char-cpu --max-iters 500 --checkpoint out/run.pt
    torchrun --standalone --nproc_per_node=4 -m lmutils.train --preset shakespeare-char
    python -m lmutils.bench --preset shakespeare-char-cpu
    python -m lmutils.bench --report         # the whole course on this GPU (lmutils.course.report)
"""

import argparse
import sys
import time
import typing
from dataclasses import fields

import torch

from ..checkpoint import CheckpointError, save_checkpoint
from ..data import encode_corpus
from ..device import DTYPES, capabilities, describe, seed_everything, synchronize
from ..distributed import parameter_spread, split_batch, start_processes, world
from ..models import GPT, GPTConfig, num_params
from ..presets import PRESETS, format_preset, format_presets, get_preset, preset_for
from ..speed import peak_flops
from ..train import MODEL_KEYS, TrainConfig, TrainingOutOfMemory, evaluate, fit, split_settings

HELP = {
    "max_iters": "optimizer steps; lr_decay_iters and warmup_iters follow it unless given too",
    "batch_size": "sequences per micro-batch. Under torchrun the N processes share out the batch_size × "
                  "grad_accum sequences of each step (grad_accum/N micro-batches each, or micro-batches of "
                  "batch_size/N): a step trains on as many sequences as on one process",
    "grad_accum": "micro-batches per optimizer step (gradient accumulation)",
    "checkpoint": "saved every checkpoint_interval steps; a rerun with the same path resumes from it",
}


def settings_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Options shared by both commands: --preset, --device and one option per setting of the model and the
    training (--max-iters, --batch-size, --n-layer, --compile, ...)."""
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
            group.add_argument(flag, type=value_parser(typ), default=argparse.SUPPRESS, help=HELP.get(name),
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
    known = {"corpus", *MODEL_KEYS, *(f.name for f in fields(TrainConfig))}
    return {k: v for k, v in vars(args).items() if k in known}


def train_preset(settings: dict, device: torch.device, progress: bool = True, quiet: bool = False,
                 title: str = ""):
    """Build the GPT of a preset's settings on its corpus and fit() it;
    returns (model, tokenizer, history, validation token ids)."""
    corpus, model_kwargs, cfg = split_settings(settings)
    seed_everything(cfg.seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    tok, train_ids, val_ids = encode_corpus(corpus)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, **model_kwargs))
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
    history = fit(model, train_ids, val_ids, cfg, device=device, progress=progress, title=title, tokenizer=tok,
                  quiet=quiet, speed=True)
    return model, tok, history, val_ids


def train_main(argv=None) -> int:
    """python -m lmutils.train"""
    from ..generate import sample_text

    parser = settings_parser("python -m lmutils.train", "Train a GPT from a preset (see --list-presets). Started by "
                             "torchrun (torchrun --standalone --nproc_per_node=N -m lmutils.train ...) it trains "
                             "data-parallel on N GPUs, or N CPU processes with --device cpu; the N processes share "
                             "each step's batch (see --batch-size), so the run is the one-process run, faster.")
    parser.add_argument("--show", action="store_true", help="print the settings and stop")
    parser.add_argument("--sample", type=int, default=300, metavar="N",
                        help="characters to sample from the trained model at the end (0: none)")
    parser.add_argument("--prompt", default="\n", help="the text the sample starts from")
    parser.add_argument("--export", metavar="PATH", help="at the end, also save the weights and tokenizer alone "
                        "(a third of --checkpoint's size: no optimizer state, so it cannot be resumed); "
                        "lmutils.checkpoint.load_model(PATH) loads it")
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
        if rank == 0 and args.export:
            # the last evaluated step is where training stopped, a resumed run's included
            path = save_checkpoint(args.export, model, step=history.eval_steps[-1], cfg=split_settings(settings)[2],
                                   tokenizer=tok)
            print(f"exported the weights to {path} ({path.stat().st_size / 1e6:.2f} MB)")
        if rank == 0 and args.sample:
            text = sample_text(model.eval(), tok, args.prompt, args.sample, seed=settings.get("seed", 0))
            print("sample:\n" + text)
        if world_size > 1:
            torch.distributed.barrier()  # no process tears the group down while another still uses it
    except (ValueError, CheckpointError, TrainingOutOfMemory) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        if world_size > 1:
            torch.distributed.destroy_process_group()
    return 0


def bench_main(argv=None) -> int:
    """python -m lmutils.bench"""
    from ..bench import summary
    from .report import add_report_options, report

    parser = settings_parser("python -m lmutils.bench", "Train a preset and print a one-line summary; with "
                             "--report, measure the whole course on this GPU.")
    parser.add_argument("--quiet", action="store_true", help="print the summary line only")
    add_report_options(parser)
    args = parser.parse_args(argv)
    if args.report:
        return report(args)
    try:
        device, _, _ = start_processes(args.device)
        name = args.preset or preset_for(device)
        settings = get_preset(name, **overrides_from(args))
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    try:
        model, _, history, val_ids = train_preset(settings, device, progress=not (args.no_progress or args.quiet),
                                                  quiet=args.quiet, title=name)
    except (ValueError, CheckpointError, TrainingOutOfMemory) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    synchronize(device)
    seconds = time.perf_counter() - t0
    val_split = evaluate(model, val_ids, settings["block_size"])
    print(summary(name, device, model, history, val_split, seconds))
    return 0
