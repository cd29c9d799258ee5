"""A 2-layer MLP with backprop written by hand in matrix form (notebook 02), and a gradient check.

Forward, for a batch of N examples with D features, M hidden units and C classes:
    A = X W1 + b1              X: (N, D)   W1: (D, M)   b1: (M,)
    H = tanh(A)                H: (N, M)
    Z = H W2 + b2              W2: (M, C)  b2: (C,)     Z: (N, C), the logits
    E = -1/N Σ_n log softmax(Z)[n, t_n]                 t: (N,), class indices
Backward, each line the chain rule through one line above (dX means ∂E/∂X):
    dZ  = (softmax(Z) - onehot(t)) / N
    dW2 = Hᵀ dZ        db2 = Σ_n dZ
    dH  = dZ W2ᵀ
    dA  = dH ⊙ (1 - H²)
    dW1 = Xᵀ dA        db1 = Σ_n dA
nn.Linear stores its weight as (out, in) and computes x Wᵀ + b, so fc1.weight = W1ᵀ.

MLPLM (notebook 03) is the same two layers as a language model (Bengio et al., 2003): the inputs are the
embeddings of the previous `context` tokens, concatenated, so that similar tokens can share what is learned.
"""

import math

import torch
from torch import nn

PARAMS = ("W1", "b1", "W2", "b2")


def init_params(n_in: int, n_hidden: int, n_out: int, generator=None, dtype=torch.float32) -> dict:
    """Weights and biases uniform in ±1/√fan_in, as nn.Linear initialises them."""
    def uniform(fan_in, *shape):
        bound = 1 / math.sqrt(fan_in)
        return (torch.rand(*shape, generator=generator, dtype=dtype) * 2 - 1) * bound
    return {"W1": uniform(n_in, n_in, n_hidden), "b1": uniform(n_in, n_hidden),
            "W2": uniform(n_hidden, n_hidden, n_out), "b2": uniform(n_hidden, n_out)}


def _check(params: dict, X, t=None) -> None:
    missing = [k for k in PARAMS if k not in params]
    if missing:
        raise KeyError(f"params lacks {missing}: it needs {list(PARAMS)} (see init_params)")
    if not isinstance(X, torch.Tensor) or X.dim() != 2:
        raise ValueError(f"X must be a 2-D tensor (N examples, D features), got "
                         f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    if X.shape[1] != params["W1"].shape[0]:
        raise ValueError(f"X has {X.shape[1]} features per example but W1 expects {params['W1'].shape[0]}")
    if t is not None:
        C = params["W2"].shape[1]
        if not isinstance(t, torch.Tensor) or t.dtype != torch.long or t.shape != (X.shape[0],):
            raise ValueError(f"t must be a 1-D tensor of {X.shape[0]} class indices (dtype torch.long), got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}"
                             f"{' ' + str(t.dtype) if isinstance(t, torch.Tensor) else ''}")
        if len(t) and (t.min() < 0 or t.max() >= C):
            raise ValueError(f"class indices must lie in 0..{C - 1}, got {t.min().item()}..{t.max().item()}")


def forward(params: dict, X: torch.Tensor):
    """Logits Z (N, C) and the cache (X, H) that backward needs."""
    _check(params, X)
    H = torch.tanh(X @ params["W1"] + params["b1"])
    Z = H @ params["W2"] + params["b2"]
    return Z, (X, H)


def cross_entropy(Z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -log softmax(Z)[n, t_n] (computed stably with logsumexp)."""
    log_p = Z - Z.logsumexp(dim=1, keepdim=True)
    return -log_p[torch.arange(len(t)), t].mean()


def backward(params: dict, cache, Z: torch.Tensor, t: torch.Tensor) -> dict:
    """∂E/∂W1, ∂E/∂b1, ∂E/∂W2, ∂E/∂b2 by the chain rule, in matrix form (see the module's docstring)."""
    X, H = cache
    N = len(t)
    dZ = Z.softmax(dim=1)
    dZ[torch.arange(N), t] -= 1
    dZ = dZ / N
    dH = dZ @ params["W2"].T
    dA = dH * (1 - H ** 2)
    return {"W1": X.T @ dA, "b1": dA.sum(0), "W2": H.T @ dZ, "b2": dZ.sum(0)}


def loss_and_grads(params: dict, X: torch.Tensor, t: torch.Tensor):
    """The loss E (a 0-d tensor) and its gradients with respect to each parameter."""
    _check(params, X, t)
    Z, cache = forward(params, X)
    return cross_entropy(Z, t), backward(params, cache, Z, t)


def predict(params: dict, X: torch.Tensor) -> torch.Tensor:
    """Class probabilities (N, C)."""
    return forward(params, X)[0].softmax(dim=1)


def numerical_grad(f, params: dict, eps: float = 1e-6) -> dict:
    """Central differences, one entry at a time: ∂f/∂p ≈ (f(p + eps) - f(p - eps)) / (2 eps).
    f maps the params dict to a number. Needs float64: float32 rounding would swamp a change of 1e-6."""
    for k, p in params.items():
        if p.dtype != torch.float64:
            raise TypeError(f"params[{k!r}] is {p.dtype}: a gradient check needs float64, e.g. "
                            "{k: p.double() for k, p in params.items()}")
    grads = {}
    for k, p in params.items():
        g = torch.zeros_like(p)
        flat, gflat = p.view(-1), g.view(-1)  # views: writing flat[i] changes params[k]
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = float(f(params))
            flat[i] = old - eps
            down = float(f(params))
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads[k] = g
    return grads


def rel_error(a, b) -> float:
    """‖a - b‖ / (‖a‖ + ‖b‖), over all entries (dicts of tensors allowed): ~1e-7 or less in float64 means
    two gradients agree; 1e-2 or more means a bug."""
    if isinstance(a, dict):
        if set(a) != set(b):
            raise KeyError(f"the two gradients have different keys: {sorted(a)} vs {sorted(b)}")
        a, b = torch.cat([a[k].reshape(-1) for k in sorted(a)]), torch.cat([b[k].reshape(-1) for k in sorted(a)])
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    denom = (a.norm() + b.norm()).item()
    return 0.0 if denom == 0 else (a - b).norm().item() / denom


class MLPLM(nn.Module):
    """Bengio et al. (2003)'s language model, over the previous `context` tokens c_1 … c_k:
        x = [C[c_1], …, C[c_k]]      (k · n_embd,)   C: the embedding table (vocab_size, n_embd)
        h = tanh(x W1 + b1)          (n_hidden,)
        logits = h W2 + b2           (vocab_size,)
    idx (B, context) → logits (B, vocab_size). context_windows makes (idx, next token) pairs from a text."""

    def __init__(self, vocab_size: int, context: int = 4, n_embd: int = 32, n_hidden: int = 512):
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.hidden = nn.Linear(context * n_embd, n_hidden)
        self.head = nn.Linear(n_hidden, vocab_size)

    def forward(self, idx):
        if idx.dim() != 2 or idx.shape[1] != self.context:
            raise ValueError(f"MLPLM reads the previous {self.context} tokens: idx must have shape "
                             f"(B, {self.context}), got {tuple(idx.shape)} (see context_windows)")
        return self.head(torch.tanh(self.hidden(self.embed(idx).flatten(1))))


def context_windows(ids: torch.Tensor, context: int):
    """(X, y) for every token of ids that has `context` tokens before it: X[i] = ids[i : i + context] and
    y[i] = ids[i + context]. Views of ids, no copies."""
    if not 1 <= context < len(ids):
        raise ValueError(f"context must be between 1 and len(ids) - 1 = {len(ids) - 1}, got {context}")
    windows = ids.unfold(0, context + 1, 1)
    return windows[:, :context], windows[:, context]
