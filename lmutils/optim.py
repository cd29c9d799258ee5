"""Optimisers written from their update equations: SGD (with momentum), Adam and AdamW, plus gradient clipping.

Each does what the torch.optim class of the same name does (tests/test_optim.py checks them step for step);
the course trains with torch.optim (lmutils.train), and these show what it computes. Notation: θ a parameter,
g = ∂E/∂θ its gradient, η the learning rate, t the step number (from 1).
"""

import torch


class Optimizer:
    """Holds the parameters (tensors with .grad filled by backward()); step() updates them in place."""

    def __init__(self, params, lr: float):
        self.params = [p for p in params]
        if not self.params:
            raise ValueError("the optimiser got no parameters: pass e.g. model.parameters()")
        if lr <= 0:
            raise ValueError(f"the learning rate must be positive, got {lr}")
        self.lr, self.t = lr, 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None


class SGD(Optimizer):
    """v ← μ v + g,  θ ← θ − η v.  μ = 0: plain gradient descent, θ ← θ − η g."""

    def __init__(self, params, lr: float, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = momentum
        self.v = [torch.zeros_like(p) for p in self.params]     # velocity: a running sum of past gradients

    @torch.no_grad()
    def step(self):
        for p, v in zip(self.params, self.v):
            v.mul_(self.momentum).add_(p.grad)                   # v ← μ v + g
            p.sub_(self.lr * v)                                  # θ ← θ − η v


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),  θ ← θ − η m̂/(√v̂ + ε)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = *betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]     # running mean of g
        self.v = [torch.zeros_like(p) for p in self.params]     # running mean of g²

    @torch.no_grad()
    def step(self):
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v):
            self.decay(p)
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)            # m ← β₁m + (1−β₁)g
            v.mul_(self.beta2).add_((1 - self.beta2) * p.grad ** 2)       # v ← β₂v + (1−β₂)g²
            m_hat = m / (1 - self.beta1 ** self.t)                        # bias correction: m, v start at 0
            v_hat = v / (1 - self.beta2 ** self.t)
            p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))           # θ ← θ − η m̂/(√v̂ + ε)

    def decay(self, p):
        """No weight decay in Adam (AdamW adds it)."""


class AdamW(Adam):
    """Adam, with the weights shrunk directly before each step (decoupled weight decay): θ ← θ − η λ θ."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps)
        self.weight_decay = weight_decay

    def decay(self, p):
        p.mul_(1 - self.lr * self.weight_decay)                              # θ ← θ − η λ θ


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients together so that their global norm ‖g‖ is at most max_norm; return ‖g‖ before."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = min(1.0, max_norm / (norm.item() + 1e-6))                        # g ← g · min(1, c/‖g‖)
    for g in grads:
        g.mul_(scale)
    return norm.item()
