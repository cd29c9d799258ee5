"""Small 2-D classification data sets for notebooks 01 and 02: points X (N, 2) and labels t (N,) in {0, 1}."""

import torch

GATES = {"and": (0, 0, 0, 1), "or": (0, 1, 1, 1), "nand": (1, 1, 1, 0), "xor": (0, 1, 1, 0)}


def _check_n(n: int, multiple: int) -> None:
    if not isinstance(n, int) or n < multiple or n % multiple:
        raise ValueError(f"n must be a positive multiple of {multiple} (points per cluster times clusters), got {n!r}")


def blobs(n: int = 100, std: float = 0.8, seed: int = 0):
    """Two Gaussian clouds, class 0 around (-1, -0.5) and class 1 around (1.5, 1.5), n/2 points each."""
    _check_n(n, 2)
    g = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[-1.0, -0.5], [1.5, 1.5]])
    t = torch.arange(n) % 2
    X = centers[t] + std * torch.randn(n, 2, generator=g)
    return X, t


def xor_blobs(n: int = 200, std: float = 0.35, seed: int = 0):
    """Four clouds at (±1, ±1): class 1 where x₁ and x₂ have opposite signs (XOR), n/4 points each."""
    _check_n(n, 4)
    g = torch.Generator().manual_seed(seed)
    corners = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    k = torch.arange(n) % 4
    X = corners[k] + std * torch.randn(n, 2, generator=g)
    return X, (k >= 2).long()


def logic_gate(name: str):
    """The four inputs (0/1, 0/1) and the gate's output, for "and", "or", "nand" or "xor"."""
    if name not in GATES:
        raise ValueError(f"unknown gate {name!r}: use one of {', '.join(GATES)}")
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, torch.tensor(GATES[name])
