"""Benchmark a preset: train it and print a one-line summary.

    python -m lmutils.bench --preset shakespeare-char-cpu
    python -m lmutils.bench --preset shakespeare-char --max-iters 500

The line: preset, device, parameters, steps, wall time (everything: data, compilation, evaluation),
training tokens/s and MFU, the last train/validation loss estimates, the validation loss over the whole
split, and peak memory (CUDA's peak allocation on a GPU, the process's peak resident size on a CPU).
"""

import math
import resource
import sys
import time

import torch

from .models import num_params
from .train import evaluate, format_speed, settings_parser, start_processes, train_preset


def peak_memory(device) -> tuple[float, str]:
    """(bytes, what was measured): CUDA's peak allocated memory, or this process's peak resident set size."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device), "GPU peak"
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kib * (1 if sys.platform == "darwin" else 1024), "RSS peak"


def summary(name, device, model, history, val_split: float, seconds: float) -> str:
    mem, what = peak_memory(device)
    return (f"bench {name} | {device.type} | {num_params(model) / 1e6:.2f}M params | {history.steps[-1]} steps | "
            f"{seconds:.1f} s | {format_speed(history.tokens_per_s, history.mfu)} | "
            f"train {history.eval_train[-1]:.4f} | val {history.eval_val[-1]:.4f} | "
            f"val (whole split) {val_split:.4f}, perplexity {math.exp(val_split):.2f} | "
            f"{what} {mem / 2**20:,.0f} MiB")


def main(argv=None) -> int:
    from .presets import get_preset, preset_for
    from .train import overrides_from

    parser = settings_parser("python -m lmutils.bench", "Train a preset and print a one-line summary.")
    parser.add_argument("--quiet", action="store_true", help="print the summary line only")
    args = parser.parse_args(argv)
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
    model, _, history, val_ids = train_preset(settings, device, progress=not (args.no_progress or args.quiet),
                                        quiet=args.quiet, title=name)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    val_split = evaluate(model, val_ids, settings["block_size"])
    print(summary(name, device, model, history, val_split, seconds))
    return 0


if __name__ == "__main__":
    from lmutils.bench import main as _main  # run in the package's module, not a second copy named __main__

    sys.exit(_main())
