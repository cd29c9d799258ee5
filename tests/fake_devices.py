"""Machines faked the way torch 2.13 reports them, so the device table can be tested on a CPU-only machine.

Only what torch asks the driver is replaced (is_available, the device's properties, whether a bf16 tensor can be
made); torch's own functions run on top, is_bf16_supported() included: on a T4 it says True, through emulation,
as it does on Colab.

    with faked("T4"):
        capabilities("cuda")
"""

import sys
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from unittest import mock

import torch

import lmutils.device

GiB = 2**30
# name: (what torch calls the GPU, compute capability, memory, sys.platform); None: no CUDA GPU
FAKES = {
    "T4": ("Tesla T4", (7, 5), 15 * GiB, "linux"),
    "V100": ("Tesla V100-SXM2-16GB", (7, 0), 16 * GiB, "linux"),
    "P100": ("Tesla P100-PCIE-16GB", (6, 0), 16 * GiB, "linux"),
    "A100": ("NVIDIA A100-SXM4-40GB", (8, 0), 40 * GiB, "linux"),
    "H100": ("NVIDIA H100 80GB HBM3", (9, 0), 80 * GiB, "linux"),
    "Windows RTX 3060": ("NVIDIA GeForce RTX 3060", (8, 6), 12 * GiB, "win32"),
    "MPS": None,
    "CPU": None,
}
GPUS = [name for name, spec in FAKES.items() if spec]


@contextmanager
def faked(name: str, triton: bool | None = None):
    """Pretend to be machine `name` of FAKES. Triton is installed with CUDA torch on Linux (Colab), not on
    Windows; `triton` says otherwise."""
    spec = FAKES[name]
    with ExitStack() as stack:
        patch = lambda target, attr, value: stack.enter_context(mock.patch.object(target, attr, value))  # noqa: E731
        patch(torch.cuda, "is_available", lambda: spec is not None)
        patch(torch.backends.mps, "is_available", lambda: name == "MPS")
        if spec:
            gpu, (major, minor), memory, platform = spec
            props = SimpleNamespace(name=gpu, major=major, minor=minor, total_memory=memory, multi_processor_count=40)
            patch(torch.cuda, "device_count", lambda: 1)
            patch(torch.cuda, "current_device", lambda: 0)
            patch(torch.cuda, "get_device_properties", lambda device=None: props)
            patch(torch.cuda, "_check_bf16_tensor_supported", lambda device: True)  # any CUDA GPU can hold bf16
            patch(sys, "platform", platform)
            patch(lmutils.device, "has_triton", lambda: platform == "linux" if triton is None else triton)
        yield torch.device("cuda" if spec else "mps" if name == "MPS" else "cpu")
