"""Benchmark a preset: train it and print a one-line summary.

    python -m lmutils.bench --preset shakespeare-char-cpu
    python -m lmutils.bench --preset shakespeare-char --max-iters 500
    python -m lmutils.bench --report          # the whole course on this GPU: see lmutils.course.report

The line: preset, device, parameters, steps, wall time (everything: data, compilation, evaluation),
training tokens/s and MFU, the last train/validation loss estimates, the validation loss over the whole
split, and peak memory (CUDA's peak allocation on a GPU, the process's peak resident size on a CPU).
"""

import math
import resource
import sys

import torch

from .models import num_params
from .speed import format_speed


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


if __name__ == "__main__":
    from lmutils.course.cli import bench_main  # the command's options and run live with the course's tools

    sys.exit(bench_main())
