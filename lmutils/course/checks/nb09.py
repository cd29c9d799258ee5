"""Checkers for notebook 09 (pre-training and fine-tuning)."""

import math

import torch

from . import attempt, close, correct, forbid, hint

_LIBRARY = ("lmutils.finetune.LoRALinear.forward", "lmutils.finetune.LoRALinear.merged_weight",
            "lmutils.finetune.merge_lora", "lmutils.finetune.GPTClassifier.features")


def _lora_case(seed=0, n_in=6, n_out=5, rank=2, batch=4):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(n_out, n_in, generator=g)
    A = torch.randn(rank, n_in, generator=g)
    B = torch.randn(n_out, rank, generator=g)  # not zero: a trained adapter
    x = torch.randn(batch, n_in, generator=g)
    return x, W, A, B


def lora_forward(fn):
    """lora_forward(x, W, A, B, scale): x (N, in) -> x Wᵀ + scale · x Aᵀ Bᵀ, of shape (N, out)."""
    for seed, scale in ((0, 0.5), (1, 2.0)):
        x, W, A, B = _lora_case(seed)
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, x, W, A, B, scale)
        if err is not None:
            return err
        want = x @ W.T + scale * (x @ A.T) @ B.T
        if not torch.is_tensor(got) or got.shape != want.shape:
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            return hint(f"expected a tensor of shape {tuple(want.shape)} (one row per input, out_features "
                        f"columns), got {shape}. Like nn.Linear, multiply by the transposed weights: x @ W.T.")
        if close(got, x @ W.T):
            return hint("your output is the frozen layer's alone: add the adapter's path, scale · B(A x).")
        if close(got, x @ W.T + (x @ A.T) @ B.T):
            return hint("the adapter's path is there but not scaled: multiply it by scale (alpha / r).")
        if not close(got, want):
            return hint("not yet equal to W x + scale · B A x, applied to each row of x: with rows, "
                        "x @ W.T + scale * (x @ A.T) @ B.T.")
    return correct("the frozen weight's output plus the low-rank path, as LoRALinear.forward.")


def merge(fn):
    """merge(W, A, B, scale) -> the single weight W + scale · B A."""
    for seed, scale in ((0, 0.5), (2, 4.0)):
        x, W, A, B = _lora_case(seed, n_in=7, n_out=3, rank=2)
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, W, A, B, scale)
        if err is not None:
            return err
        want = W + scale * B @ A
        if not torch.is_tensor(got) or got.shape != W.shape:
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            return hint(f"the merged weight has W's shape {tuple(W.shape)} (out × in); got {shape}. "
                        "B is out × r and A is r × in: which order of the product gives out × in?")
        if close(got, W + B @ A):
            return hint("the product B A is there, but not multiplied by scale.")
        if not close(got, want):
            return hint("not yet W + scale · B A.")
    return correct("merged, the adapter costs nothing at inference: one matrix product as before.")


def mean_pool(fn):
    """mean_pool(h, mask): h (B, T, C), mask (B, T) of 1s (real) and 0s (padding) -> (B, C), the mean of the
    real positions' vectors."""
    g = torch.Generator().manual_seed(3)
    h = torch.randn(3, 5, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.float)
    with forbid(fn, *_LIBRARY):
        got, err = attempt(fn, h, mask)
    if err is not None:
        return err
    want = torch.stack([h[i, :int(m.sum())].mean(0) for i, m in enumerate(mask)])
    if not torch.is_tensor(got) or got.shape != want.shape:
        shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
        return hint(f"expected shape {tuple(want.shape)}: one vector per sequence; got {shape}.")
    if close(got, h.mean(1)):
        return hint("you averaged over every position, padding included: use only those where mask is 1.")
    if close(got, (h * mask[..., None]).mean(1)):
        return hint("the padding is zeroed, but you still divide by T: divide by the number of real tokens, "
                    "mask.sum(1).")
    if not close(got, want):
        return hint("not yet the mean of the real positions: (h * mask[..., None]).sum(1) divided by the "
                    "number of real tokens of each sequence.")
    return correct("padding changes nothing: each sequence is the mean of its own characters' states.")


def perplexity(fn):
    """perplexity(batch_losses, batch_tokens): each batch's mean NLL per token and its number of tokens ->
    exp(total NLL / total tokens)."""
    cases = [([2.0, 1.0], [300, 100]), ([1.5, 1.2, 3.0], [640, 640, 64]), ([1.0], [50])]
    for losses, counts in cases:
        got, err = attempt(fn, list(losses), list(counts))
        if err is not None:
            return err
        try:
            got = float(got)
        except (TypeError, ValueError):
            return hint(f"return one number (a Python float or a 0-d tensor), got {type(got).__name__}.")
        want = math.exp(sum(l * n for l, n in zip(losses, counts)) / sum(counts))
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        if len(losses) > 1 and math.isclose(got, math.exp(sum(losses) / len(losses)), rel_tol=1e-6):
            return hint("you averaged the batches' means: a batch of 64 tokens then weighs as much as one of "
                        "640. Weight each batch's mean by its number of tokens.")
        if math.isclose(got, sum(l * n for l, n in zip(losses, counts)) / sum(counts), rel_tol=1e-6):
            return hint("that is the mean NLL per token, in nats: perplexity is its exponential.")
        return hint("total NLL = Σ mean loss × tokens of the batch; divide by all the tokens; then exp.")
    return correct("exp of the mean NLL per token, every token counted once.")
