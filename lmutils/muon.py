"""Muon: momentum, then orthogonalise the update, for the weight matrices inside a Transformer's blocks.

Written from its update rule, as torch.optim.Muon computes it (tests/test_muon.py checks them step for step).
For a weight matrix θ with gradient g, learning rate η, weight decay λ and momentum μ:

    B ← μ B + (1 − μ) g                        momentum: a running average of the gradients
    U = (1 − μ) g + μ B   (Nesterov)            or U = B without Nesterov
    O = NS(U) ≈ P Qᵀ, where U = P S Qᵀ (SVD)   Newton–Schulz: every singular value of U moved close to 1
    θ ← θ − η λ θ − η · √max(1, rows / cols) · O

The gradient of a matrix is dominated by a few directions (a few large singular values). O keeps the
directions of U but gives each the same size, so the rarely pushed directions learn as fast as the common ones.
NS is five steps of the polynomial X ← a X + (b A + c A²) X with A = X Xᵀ, whose coefficients (Keller Jordan's)
push singular values in (0, 1] towards about 1 (0.7 to 1.2: not exactly, which turns out not to matter) in
bfloat16, cheaply on a GPU; an SVD would be exact but slow. The √max(1, rows/cols) factor (the "original"
shape scale) gives tall matrices' updates the same size per entry as square ones'. (torch's documentation
writes the momentum as B ← μ B + g; its code, and this, average: B ← μ B + (1 − μ) g, a rescaled B.)

Muon is for 2-D matrices that multiply hidden activations. Embeddings (a lookup: each row sees only its own
tokens' gradients), the output layer, norm gains and biases keep AdamW (muon_groups).
"""

import math

import torch

COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # a, b, c of the quintic; torch.optim.Muon's defaults


def newton_schulz(G: torch.Tensor, steps: int = 5, coefficients=COEFFICIENTS, eps: float = 1e-7,
                  dtype=torch.bfloat16) -> torch.Tensor:
    """An approximately orthogonal matrix with G's singular vectors: G = P S Qᵀ → about P Qᵀ."""
    a, b, c = coefficients
    X = G.to(dtype)
    tall = G.size(0) > G.size(1)
    if tall:  # work on the wide side: X Xᵀ is then the smaller of the two Gram matrices
        X = X.T
    X = X / X.norm().clamp(min=eps)  # the Frobenius norm bounds the largest singular value: now all are ≤ 1
    for _ in range(steps):
        A = X @ X.T
        B = torch.addmm(A, A, A, beta=b, alpha=c)  # b·A + c·A²
        X = torch.addmm(X, B, X, beta=a)           # a·X + B·X
    return X.T if tall else X


def adjusted_lr(lr: float, shape, adjust_lr_fn: str | None = None) -> float:
    """The shape scale: η·√max(1, rows/cols) ("original", the default) or η·0.2·√max(rows, cols)
    ("match_rms_adamw": updates as large per entry as AdamW's, so AdamW's learning rate can be reused)."""
    rows, cols = shape[:2]
    if adjust_lr_fn in (None, "original"):
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")


class Muon(torch.optim.Optimizer):
    """Muon for 2-D parameters, with torch.optim.Muon's arguments and defaults."""

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients=COEFFICIENTS, eps: float = 1e-7, ns_steps: int = 5,
                 adjust_lr_fn: str | None = None):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"lr, momentum and weight_decay must be ≥ 0, got {lr}, {momentum}, {weight_decay}")
        adjusted_lr(lr, (1, 1), adjust_lr_fn)  # an unknown adjust_lr_fn fails now, not at the first step
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(f"Muon is for 2-D weight matrices; got a parameter of shape {tuple(p.shape)}: "
                                     "give embeddings' lookups, norms and biases to AdamW (lmutils.muon.muon_groups)")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                B = self.state[p].setdefault("momentum_buffer", torch.zeros_like(g))
                B.lerp_(g, 1 - mu)                                       # B ← μ B + (1 − μ) g
                U = g.lerp(B, mu) if group["nesterov"] else B            # (1 − μ) g + μ B
                O = newton_schulz(U, group["ns_steps"], group["ns_coefficients"], group["eps"])  # noqa: E741
                p.mul_(1 - lr * group["weight_decay"])                   # θ ← θ − η λ θ
                p.add_(O, alpha=-adjusted_lr(lr, p.shape, group["adjust_lr_fn"]))
        return loss


def muon_groups(model: torch.nn.Module):
    """(matrices for Muon, the rest for AdamW): Muon gets the 2-D weights inside the blocks; the embeddings,
    the output layer (tied or not), norm gains and biases stay with AdamW."""
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]  # a tied weight once
    matrices = [p for name, p in params if p.dim() == 2 and name.startswith("blocks.")]
    return matrices, [p for name, p in params if not (p.dim() == 2 and name.startswith("blocks."))]


class Optimizers:
    """Several optimizers stepped as one (Muon and AdamW): what fit() asks of an optimizer."""

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list:
        return [group for opt in self.optimizers for group in opt.param_groups]

    def step(self, closure=None):
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self, set_to_none: bool = True):
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: dict):
        saved = state.get("optimizers", ())
        if len(saved) != len(self.optimizers):
            raise ValueError(f"the saved state holds {len(saved) or 'a single'} optimizer(s), this run has "
                             f"{len(self.optimizers)}: it was trained with another optimizer setting")
        for opt, s in zip(self.optimizers, saved):
            opt.load_state_dict(s)
