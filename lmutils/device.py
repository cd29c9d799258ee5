"""Device choice, seeding and Colab detection."""

import os
import random
import sys

import numpy as np
import torch

DEVICES = ("cuda", "mps", "cpu")
DTYPES = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def in_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA, then Apple MPS, then CPU. `prefer` (or $LMUTILS_DEVICE) forces one, e.g. "cpu" or "cuda:1"."""
    prefer = prefer or os.environ.get("LMUTILS_DEVICE") or None
    if prefer is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = str(prefer).split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"unknown device {prefer!r}: use one of {', '.join(DEVICES)} "
                         "(or leave it out to choose automatically)")
    if kind == "cuda" and not torch.cuda.is_available():
        hint = " On Colab: Runtime > Change runtime type > GPU." if in_colab() else ""
        raise RuntimeError(f"CUDA was asked for ({prefer!r}) but this machine has no CUDA GPU that PyTorch can use. "
                           f"Use device='cpu' or leave it out to choose automatically.{hint}")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("MPS (Apple GPU) was asked for but is not available here. Use device='cpu' or leave it out.")
    return torch.device(prefer)


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a run can be repeated exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for a device: bf16 where supported (Ampere and newer), fp16 on older GPUs (T4),
    None (plain fp32) on CPU and MPS, where autocast brings no speed-up for these models."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def resolve_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype a run asks for by name (one of DTYPES), on this device; None for plain float32."""
    if name == "auto":
        return autocast_dtype(device)
    dtype = DTYPES[name]
    if dtype == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bfloat16 support (e.g. a T4): use dtype='float16' or 'auto'")
    return None if dtype == torch.float32 else dtype


def describe(device: torch.device) -> str:
    """One line about the device, for the top of a notebook."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda: {props.name}, {props.total_memory / 2**30:.0f} GiB"
    if device.type == "mps":
        return "mps: Apple GPU"
    return "cpu"
