"""Checkers for notebook 05 (LSTM)."""

import math

import torch
import torch.nn as nn

from . import PLACEHOLDER_HINT, attempt, close, correct, hint, unanswered
from ...recurrent import lstm_forward, lstm_params_from_torch
from .nb04 import _count


def _case(seed=7, B=3, n_in=4, n_hidden=5):
    g = torch.Generator().manual_seed(seed)
    torch_lstm = nn.LSTM(n_in, n_hidden)
    with torch.no_grad():
        for w in torch_lstm.parameters():
            w.copy_(torch.randn(w.shape, generator=g))
    p = {k: v.detach() for k, v in lstm_params_from_torch(torch_lstm).items()}
    return (torch.randn(B, n_in, generator=g), torch.randn(B, n_hidden, generator=g),
            torch.randn(B, n_hidden, generator=g), p)


def _tensors(fn, args, n, message):
    """The student's answer as n tensors, or (None, feedback)."""
    got, err = attempt(fn, *args)
    if err is not None:
        return None, err
    if not isinstance(got, (tuple, list)) or len(got) != n or not all(torch.is_tensor(v) for v in got):
        return None, hint(message)
    return got, None


def _step(x_t, h, C, p, swap=False, h_tanh=True, c_act=torch.tanh):
    f_name, i_name = ("i", "f") if swap else ("f", "i")
    gate = lambda g, act=torch.sigmoid: act(h @ p[f"W_h{g}"].T + x_t @ p[f"W_x{g}"].T + p[f"b_{g}"])
    f, i, C_tilde, o = gate(f_name), gate(i_name), gate("c", c_act), gate("o")
    C = f * C + i * C_tilde
    return o * (torch.tanh(C) if h_tanh else C), C


def lstm_step(fn):
    """lstm_step(x_t, h, C, p) = (h_t, C_t) of the LSTM equations."""
    x_t, h, C, p = _case()
    got, bad = _tensors(fn, (x_t, h, C, {k: v.clone() for k, v in p.items()}), 2, "lstm_step should return two "
                        "tensors, the new (h, C).")
    if bad is not None:
        return bad
    h_new, C_new = got
    if h_new.shape != h.shape or C_new.shape != C.shape:
        return hint(f"h and C keep their shape (B, n_hidden) = {tuple(h.shape)}; got {tuple(h_new.shape)} and "
                    f"{tuple(C_new.shape)}.")
    want_h, want_C = lstm_forward(x_t[:, None], h, C, **p)[:2]
    if close(h_new, want_h[:, 0]) and close(C_new, want_C[:, 0]):
        return correct("one step of nn.LSTM.")
    if close(C_new, want_C[:, 0]):
        if close(h_new, _step(x_t, h, C, p, h_tanh=False)[0]):
            return hint("C is right; h is the output gate times a squashed cell state.")
        return hint("C is right; check h.")
    if close(h_new, _step(x_t, h, C, p, swap=True)[0]):
        return hint("the forget gate and the input gate are swapped: which one multiplies the old cell state?")
    if close(C_new, _step(x_t, h, C, p, c_act=torch.sigmoid)[1]):
        return hint("the candidate C̃ uses a different nonlinearity from the gates: it can be negative.")
    if close(h_new, h_new.new_tensor(0.0).expand_as(h_new)):
        return hint("h is all zeros: did you return the input state or forget to compute something?")
    return hint("not the expected values: compute f, i, C̃ and o from h and x_t, then C, then h, as in the equations.")


def forget_gate(fn):
    """forget_gate(lstm) = (W_xf, W_hf, b_f) = rows n..2n of PyTorch's stacked weights, b_ih + b_hh."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    got, bad = _tensors(fn, (lstm,), 3, "forget_gate should return three tensors: (W_xf, W_hf, b_f).")
    if bad is not None:
        return bad
    W_xf, W_hf, b_f = (v.detach() for v in got)
    if W_xf.shape != (4, 3) or W_hf.shape != (4, 4) or b_f.shape != (4,):
        return hint(f"for nn.LSTM(3, 4) the shapes are (4, 3), (4, 4) and (4,); got {tuple(W_xf.shape)}, "
                    f"{tuple(W_hf.shape)}, {tuple(b_f.shape)}. Cut the stacked matrices along the rows.")
    rows = {g: slice(k * 4, (k + 1) * 4) for k, g in enumerate("ifgo")}
    ih, hh = lstm.weight_ih_l0.detach(), lstm.weight_hh_l0.detach()
    b_ih, b_hh = lstm.bias_ih_l0.detach(), lstm.bias_hh_l0.detach()
    for g, r in rows.items():
        if torch.equal(W_xf, ih[r]) and torch.equal(W_hf, hh[r]):
            if g != "f":
                return hint("those are the weights of another gate: in which order does PyTorch stack its gates?")
            if close(b_f, b_ih[r] + b_hh[r]):
                return correct("rows n to 2n of each stacked matrix, and both biases added.")
            if torch.equal(b_f, b_ih[r]) or torch.equal(b_f, b_hh[r]):
                return hint("the weights are right; PyTorch keeps two bias vectors, and the gate sees their sum.")
            return hint("the weights are right; check the bias.")
    return hint("W_xf and W_hf are not rows of weight_ih_l0 and weight_hh_l0: cut each in four along the rows.")


def forget_bias(answer):
    """b_f such that σ(b_f)^100 = 1/2: b_f = logit(0.5 ** (1/100)) ≈ 4.97."""
    if unanswered(answer):
        return hint(PLACEHOLDER_HINT)
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return hint(f"give a number, got {type(answer).__name__}.")
    f = 0.5 ** (1 / 100)
    want = math.log(f / (1 - f))
    if abs(value - want) < 0.01:
        return correct(f"f = σ({want:.2f}) = {f:.4f}; the largest initial b_f people use is far smaller, so a "
                       "long memory has to be learned.")
    if abs(value - f) < 0.01:
        return hint("that is the forget gate's value f; the question asks for the bias b_f with σ(b_f) = f.")
    if abs(value - math.log(f)) < 0.01 or abs(value + math.log(f)) < 0.01:
        return hint("invert the sigmoid: if f = σ(b), then b = log(f / (1 − f)).")
    if 0 < value < 50 and abs((1 / (1 + math.exp(-value))) ** 100 - 0.5) < 0.05:
        return hint("close: give 2 decimals.")
    return hint("after 100 steps the cell keeps f·f·…·f = f¹⁰⁰ of its value: solve f¹⁰⁰ = 1/2, then f = σ(b_f).")


def lstm_params(fn):
    """lstm_params(n_in, n_hidden) = 4 (n_hidden n_in + n_hidden² + 2 n_hidden)."""
    for n_in, n_hidden in [(3, 4), (32, 128), (10, 1)]:
        got, bad = _count(fn, "lstm_params", n_in, n_hidden)
        if bad is not None:
            return bad
        want = sum(w.numel() for w in nn.LSTM(n_in, n_hidden).parameters())
        if got == want:
            continue
        if got * 4 == want:
            return hint("that is one gate's worth: the LSTM has four sets of weights (f, i, C̃, o).")
        if got == want - 4 * n_hidden:
            return hint("PyTorch keeps two bias vectors per gate.")
        if got == want - 8 * n_hidden:
            return hint("the biases are missing.")
        return hint(f"for n_in = {n_in}, n_hidden = {n_hidden} nn.LSTM has a different count: each of the four gates "
                    "has an input matrix, a recurrent matrix and biases.")
    return correct("four gates, each with W_x (n_hidden × n_in), W_h (n_hidden × n_hidden) and two biases.")
