"""Checkers for notebook 06 (attention)."""

import math

import torch
import torch.nn.functional as F

from . import attempt, call, checker, close, correct, forbid, hint
from ...attention import sinusoidal_positions


def _tensor(result, name):
    if not torch.is_tensor(result):
        return hint(f"{name} should return a torch tensor, got {type(result).__name__}.")
    return None


@checker
def attention(fn):
    """my_attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V."""
    g = torch.Generator().manual_seed(6)
    Q, K = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 7, 8, generator=g)
    V = torch.randn(2, 3, 7, 4, generator=g)
    with forbid(fn, "torch.nn.functional.scaled_dot_product_attention",
                "lmutils.attention.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward"):
        got, err = attempt(fn, Q.clone(), K.clone(), V.clone())
    if err is not None:
        return err
    bad = _tensor(got, "my_attention")
    if bad is not None:
        return bad
    if got.shape == (2, 3, 5, 7):
        return hint("that is the shape of the attention weights (…, T_q, T_k): the output is the weights times V.")
    if got.shape != (2, 3, 5, 4):
        return hint(f"for Q (…, T_q, d_k), K (…, T_k, d_k), V (…, T_k, d_v) the output has shape (…, T_q, d_v) = "
                    f"(2, 3, 5, 4); yours has {tuple(got.shape)}.")
    want = F.scaled_dot_product_attention(Q, K, V)
    if close(got, want, 1e-4):
        return correct("the same as F.scaled_dot_product_attention.")
    S = Q @ K.transpose(-2, -1)
    if close(got, S.softmax(-1) @ V, 1e-4):
        return hint("close: the equation has one more operation on the scores before the softmax.",
                    "close: the scores must be divided by √d_k before the softmax.")
    if close(got, (S / 8).softmax(-1) @ V, 1e-4):
        return hint("divide by the square root of d_k, not by d_k.")
    if close(got, (S / math.sqrt(8)).softmax(-2) @ V, 1e-4):
        return hint("the softmax runs over the wrong axis: each query's weights (a row of the scores) must sum to 1.")
    return hint("not the expected values: follow the equation from the inside out, and check each shape.",
                "compute the scores Q Kᵀ / √d_k (transpose the last two dims of K), a softmax over the keys, "
                "then multiply by V.",
                "(Q @ K.transpose(-2, -1) / math.sqrt(d_k)).softmax(dim=-1) @ V, with d_k = Q.size(-1).")


@checker
def score_std(fn):
    """score_std(d_k, sigma) = std of q·k/√d_k = sigma²."""
    cases = [(16, 1.0), (64, 2.0), (4, 0.5), (256, 3.0)]
    got = []
    for d_k, sigma in cases:
        value, err = attempt(fn, d_k, sigma)
        if err is not None:
            return err
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            return hint(f"score_std should return a number, got {type(value).__name__}.")
    want = [s ** 2 for _, s in cases]
    if close(got, want, 1e-3):
        return correct("σ² whatever d_k: that independence from d_k is the point of the scaling.")
    if close(got, [s for _, s in cases], 1e-3):
        return hint("each term q_i·k_i is a product of two numbers of standard deviation σ: what is its variance?",
                    "Var(q_i·k_i) = σ²·σ² = σ⁴ for independent, zero-mean q_i and k_i; now add d_k of them.")
    if close(got, [math.sqrt(d) * s ** 2 for d, s in cases], 1e-3):
        return hint("that is the std of the unscaled q·k: what does the scaling do to it?",
                    "that is the std of the unscaled q·k; now divide by √d_k.")
    if close(got, [s ** 4 for _, s in cases], 1e-3):
        return hint("σ⁴ is a variance; the question asks for a standard deviation.")
    return hint("q·k is a sum of d_k independent terms q_i·k_i: what is the variance of one term, and of the sum?",
                "variances of independent terms add: Var(q·k) = d_k·Var(q_i·k_i). Dividing by √d_k divides the "
                "variance by d_k.",
                "Var(q_i·k_i) = σ⁴, Var(q·k) = d_k σ⁴, Var(q·k/√d_k) = σ⁴: the std is σ².")


@checker
def causal_mask(fn):
    """my_causal_mask(T): boolean (T, T), True on and below the diagonal."""
    with forbid(fn, "lmutils.attention.causal_mask", "torch.nn.Transformer.generate_square_subsequent_mask"):
        got, err = attempt(fn, 5)
    if err is not None:
        return err
    bad = _tensor(got, "my_causal_mask")
    if bad is not None:
        return bad
    if got.shape != (5, 5):
        return hint(f"for T = 5 the mask should have shape (5, 5), got {tuple(got.shape)}.")
    if got.dtype != torch.bool:
        return hint(f"the mask should be boolean (dtype torch.bool), got {got.dtype}: compare, or call .bool().")
    want = torch.ones(5, 5, dtype=torch.bool).tril()
    if torch.equal(got, want):
        with forbid(fn, "lmutils.attention.causal_mask", "torch.nn.Transformer.generate_square_subsequent_mask"):
            again, err = call(fn, 1)
        if err is not None or not torch.is_tensor(again) or again.shape != (1, 1):
            return hint("it should work for any T, including T = 1.")
        return correct()
    if torch.equal(got, ~want):
        return hint("that is the opposite convention (True = blocked, as nn.MultiheadAttention reads it); "
                    "ours is True = may attend.")
    if torch.equal(got, want.T):
        return hint("upper triangle: query i (row) may look at keys j ≤ i (columns), not j ≥ i.")
    if torch.equal(got, torch.ones(5, 5, dtype=torch.bool).tril(-1)):
        return hint("a token may attend to itself: keep the diagonal.")
    return hint("draw the 5 × 5 table on paper: row i is query i, column j is key j. Which may it see?",
                "row i (the query) should be True for columns j = 0..i and False after.",
                "a lower triangle with its diagonal: torch.ones(T, T, dtype=torch.bool).tril().")


@checker
def split_heads(fn):
    """split_heads(x, n_head): (B, T, C) → (B, n_head, T, C // n_head), head i = features i·d_k … (i+1)·d_k − 1."""
    x = torch.arange(2 * 3 * 12, dtype=torch.float32).view(2, 3, 12)
    with forbid(fn, "lmutils.attention.MultiHeadAttention.split_heads"):
        got, err = attempt(fn, x.clone(), 4)
    if err is not None:
        return err
    bad = _tensor(got, "split_heads")
    if bad is not None:
        return bad
    want = x.view(2, 3, 4, 3).transpose(1, 2)
    if got.shape != want.shape:
        return hint(f"for x of shape (2, 3, 12) and 4 heads the result has shape (B, n_head, T, d_k) = (2, 4, 3, 3); "
                    f"yours has {tuple(got.shape)}.")
    if torch.equal(got, want):
        return correct()
    if torch.equal(got, x.view(2, 4, 3, 3)):
        return hint("right shape, wrong content: viewing (B, T, C) directly as (B, n_head, T, d_k) mixes up tokens "
                    "and heads.", "right shape, wrong content: split the last dim first, (B, T, n_head, d_k), then "
                    "swap two dims.")
    return hint("head i of token t should hold x[b, t, i*d_k:(i+1)*d_k]: print a small example.",
                "head i of token t should hold x[b, t, i*d_k:(i+1)*d_k]: view as (B, T, n_head, d_k), then rearrange.",
                "x.view(B, T, n_head, C // n_head).transpose(1, 2).")


@checker
def positional_encoding(fn):
    """positional_encoding(T, d_model): the sinusoidal table."""
    with forbid(fn, "lmutils.attention.sinusoidal_positions"):
        got, err = attempt(fn, 20, 8)
    if err is not None:
        return err
    bad = _tensor(got, "positional_encoding")
    if bad is not None:
        return bad
    want = sinusoidal_positions(20, 8)
    if got.shape != want.shape:
        return hint(f"for T = 20, d_model = 8 the table has shape (20, 8); yours has {tuple(got.shape)}.")
    if close(got, want, 1e-4):
        return correct()
    if close(got[:, 0::2], want[:, 1::2], 1e-4) and close(got[:, 1::2], want[:, 0::2], 1e-4):
        return hint("sine and cosine are swapped: even columns (2i) hold the sine.")
    freqs = 10000 ** (-torch.arange(8) / 8)  # a typical slip: exponent i/d_model per column instead of 2i/d_model
    pos = torch.arange(20.0)[:, None]
    if close(got[:, 1::2], torch.cos(pos * freqs[1::2]), 1e-4):
        return hint("check the exponent: the pair (2i, 2i+1) shares the frequency 1/10000^(2i/d_model).")
    if close(got[:, 0], want[:, 0], 1e-4):
        return hint("the first column is right; check the frequencies of the others.",
                    "the first column is right; check the frequencies of the others: 1/10000^(2i/d_model).")
    return hint("compare your table with the equation column by column, starting with column 0 (pos itself, "
                "through a sine).",
                "PE[pos, 2i] = sin(pos / 10000^(2i/d_model)) and PE[pos, 2i+1] = cos(the same angle).",
                "angle = pos[:, None] / 10000 ** (torch.arange(0, d_model, 2) / d_model); even columns "
                "sin(angle), odd columns cos(angle).")
