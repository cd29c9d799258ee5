"""Device choice, what each device supports (capabilities: precision, torch.compile, sizes), timing, seeding,
Colab detection."""

import importlib.util
import os
import random
import sys
from dataclasses import dataclass

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


# --- what a device really supports: the one table the course's precision, compile and sizes come from ---------

@dataclass(frozen=True)
class Capabilities:
    """What one device computes well, and so how the course trains on it (capabilities(device))."""
    name: str                           # "Tesla T4, compute capability 7.5"
    sizes: str                          # the column of lmutils.course.sizes it runs: "gpu" or "cpu"
    autocast_dtype: torch.dtype | None  # mixed precision for training; None: plain float32
    grad_scaler: bool                   # fp16 gradients underflow without one (notebook 08)
    bf16: bool                          # bfloat16 in hardware, so dtype="bfloat16" may be asked for
    compile: bool                       # torch.compile by default
    can_compile: bool                   # torch.compile works here when asked for
    precision_why: str
    compile_why: str

    @property
    def why(self) -> str:
        state = "on" if self.compile else "off"
        return f"{self.sizes.upper()} sizes; {self.precision_why}; torch.compile {state}: {self.compile_why}"


def size_column(device) -> str:
    """The column of lmutils.course.sizes a device runs: "gpu" on CUDA; "cpu" on a CPU and on Apple MPS (the CPU sizes'
    small models gain little from MPS, and the full sizes would take many minutes there)."""
    return "gpu" if torch.device(device).type == "cuda" else "cpu"


def gpu_name(device) -> str:
    """The GPU's name, as the driver gives it ("Tesla T4")."""
    try:
        return torch.cuda.get_device_name(device)
    except (AssertionError, RuntimeError):  # no driver to ask (a capability faked by hand): the table needs none
        return "a CUDA GPU"


def has_triton() -> bool:
    """Whether Triton, the language torch.compile writes its GPU kernels in, is installed."""
    return importlib.util.find_spec("triton") is not None


def bf16_in_hardware(device) -> bool:
    """bfloat16 computed by the GPU itself: compute capability 8.0 (Ampere) and newer. torch's
    is_bf16_supported() also says True on a T4 (7.5), where bf16 is only emulated, slowly, and Triton refuses it."""
    import inspect

    if "including_emulation" in inspect.signature(torch.cuda.is_bf16_supported).parameters:
        supported = torch.cuda.is_bf16_supported(including_emulation=False)
    else:  # an older torch, whose answer never counted emulation
        supported = torch.cuda.is_bf16_supported()
    return supported and torch.cuda.get_device_capability(device) >= (8, 0)


def capabilities(device) -> Capabilities:
    """The device table: sizes, precision, GradScaler and torch.compile for a device, with the reasons.

        device              sizes  autocast        GradScaler  torch.compile
        A100, L4, H100      gpu    bfloat16        no          on (Linux, with Triton)
        T4, V100            gpu    float16         yes         on (Linux, with Triton)
        P100                gpu    float16         yes         off: Triton needs compute capability 7.0
        a GPU on Windows    gpu    as above        as above    off: no Triton on Windows
        Apple MPS           cpu    none (float32)  no          off
        CPU                 cpu    none (float32)  no          off by default; on if asked (not on Windows)
    """
    device = torch.device(device)
    windows = sys.platform.startswith("win")
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        name = f"{gpu_name(device)}, compute capability {major}.{minor}"
        bf16 = bf16_in_hardware(device)
        precision = ("bfloat16 autocast, in hardware from compute capability 8.0" if bf16 else
                     "float16 autocast with a GradScaler: bfloat16 needs compute capability 8.0 (below it torch "
                     "only emulates it, slowly, and Triton refuses it)")
        if windows:
            no_compile = "Triton, which it compiles to, does not run on Windows"
        elif (major, minor) < (7, 0):
            no_compile = "Triton needs compute capability 7.0"
        elif not has_triton():
            no_compile = "triton is not installed (the CUDA builds of torch for Linux bring it)"
        else:
            no_compile = None
        return Capabilities(name, size_column(device), torch.bfloat16 if bf16 else torch.float16, grad_scaler=not bf16,
                            bf16=bf16, compile=no_compile is None, can_compile=no_compile is None,
                            precision_why=precision,
                            compile_why=no_compile or "Triton compiles the model into fused kernels")
    if device.type == "mps":
        return Capabilities("Apple GPU (MPS)", size_column(device), None, False, False, False, False,
                            precision_why="float32 (the course has not measured mixed precision on MPS)",
                            compile_why="its MPS backend is a prototype")
    return Capabilities("CPU", size_column(device), None, False, False, False, can_compile=not windows,
                        precision_why="float32 (most CPUs have no fast 16-bit arithmetic)",
                        compile_why="not on Windows, where the course leaves it off" if windows else
                        "only when asked for (on 2 cores 1.12× faster, after a 33 s warm-up)")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for a device (capabilities): bf16 from compute capability 8.0, fp16 on older GPUs
    (T4, V100, P100), None (plain fp32) on CPU and MPS."""
    return capabilities(device).autocast_dtype


def resolve_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype a run asks for by name (one of DTYPES), on this device; None for plain float32.
    bfloat16 on a GPU that only emulates it (a T4) is refused with what to use instead."""
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}: use one of {', '.join(DTYPES)}")
    if name == "auto":
        return autocast_dtype(device)
    dtype = DTYPES[name]
    if dtype == torch.bfloat16 and torch.device(device).type == "cuda" and not bf16_in_hardware(device):
        raise ValueError(f"this GPU ({capabilities(device).name}) has no bfloat16 in hardware (that needs compute "
                         "capability 8.0: A100, L4, H100): use dtype='float16', which trains with a GradScaler "
                         "(--dtype float16 on the command line), or 'auto', which picks it")
    return None if dtype == torch.float32 else dtype


def resolve_compile(wanted: bool, device) -> tuple[bool, str | None]:
    """(compile or not, a one-line note or None): a run that asks for torch.compile where it cannot work (Windows,
    MPS, a GPU older than compute capability 7.0) runs without it instead of failing."""
    caps = capabilities(device)
    if wanted and not caps.can_compile:
        return False, f"note: torch.compile is off on this device ({caps.name}): {caps.compile_why}"
    return wanted, None


def synchronize(device) -> None:
    """Wait until the device has finished its queued work (CUDA and MPS run asynchronously; a CPU does not):
    call it before reading a clock, or a timing measures only the launching of kernels."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def describe(device: torch.device) -> str:
    """One line about the device, for the top of a notebook."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda: {props.name}, {props.total_memory / 2**30:.0f} GiB"
    if device.type == "mps":
        return "mps: Apple GPU"
    return "cpu"
