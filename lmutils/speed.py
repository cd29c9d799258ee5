"""Speed: training FLOPs per token, tokens per second and model FLOPs utilisation (MFU)."""

import re
import time
from contextlib import contextmanager

import torch

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


def flops_per_token(model: torch.nn.Module, block_size: int) -> float:
    """Training FLOPs per token (forward + backward) of a model trained on windows of block_size tokens:
    attention's cost grows with the window actually trained on, not with the longest the model could take.
    0.0 for a model that cannot count its FLOPs (only the GPT can)."""
    count = getattr(model, "flops_per_token", None)
    return float(count(block_size)) if count else 0.0


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


class Meter:
    """Writes the History: the training loss and the training time and tokens (evaluation time excluded)
    at every log, the loss estimates at every evaluation, with the speed since the one before."""

    def __init__(self, history, tokens_per_step: int):
        self.history, self.tokens_per_step = history, tokens_per_step
        self.losses, self.start = [], time.perf_counter()
        self.since_eval = (history.tokens, history.seconds)

    @contextmanager
    def paused(self):
        t = time.perf_counter()
        yield
        self.start += time.perf_counter() - t

    def log(self, step: int, lr: float) -> tuple[float, dict]:
        """The mean training loss since the last log, and the progress bar's figures."""
        h = self.history
        mean = torch.stack(self.losses).mean().item()  # one device sync per log, not per step
        seconds, tokens = time.perf_counter() - self.start, len(self.losses) * self.tokens_per_step
        h.seconds, h.tokens = h.seconds + seconds, h.tokens + tokens
        h.steps.append(step), h.train_loss.append(mean), h.lr.append(lr)
        self.losses, self.start = [], time.perf_counter()
        figures = {"loss": f"{mean:.3f}", "tok_s": f"{tokens / seconds:,.0f}"}
        util = mfu(h.flops_per_token, tokens / seconds, h.peak_flops, h.world_size)
        if util is not None:
            figures["mfu"] = f"{100 * util:.1f}%"
        return mean, figures

    def evaluated(self, step: int, train_loss: float, val_loss: float) -> str | None:
        """Records the loss estimates; returns the speed since the evaluation before ('41,000 tokens/s | MFU 35.2%'),
        None where no training happened in between."""
        h = self.history
        h.eval_steps.append(step), h.eval_train.append(train_loss), h.eval_val.append(val_loss)
        h.eval_seconds.append(h.seconds)  # as of the last log, evaluation time excluded
        tokens, seconds = h.tokens - self.since_eval[0], h.seconds - self.since_eval[1]
        self.since_eval = (h.tokens, h.seconds)
        if seconds <= 0:
            return None
        return format_speed(tokens / seconds, mfu(h.flops_per_token, tokens / seconds, h.peak_flops, h.world_size))
