"""Checkers for notebook 05 (LSTM)."""

import math

import torch
import torch.nn as nn

from . import attempt, checker, close, correct, forbid, hint, placeholder, seeded, unanswered
from ...recurrent import lstm_forward, lstm_params_from_torch
from .nb04 import _count


def _case(seed=7, B=3, n_in=4, n_hidden=5):
    g = torch.Generator().manual_seed(seed)
    with seeded(seed):
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


def _step(x_t, h, C, W, b, order="fico", hx=True, h_tanh=True, c_act=torch.tanh):
    """One LSTM step with the stacked W (4n, n + n_in); order: which gate each block of rows feeds."""
    z = (torch.cat([h, x_t], 1) if hx else torch.cat([x_t, h], 1)) @ W.T + b
    gates = dict(zip(order, z.chunk(4, dim=1)))
    f, i, o = (torch.sigmoid(gates[k]) for k in "fio")
    C_tilde = c_act(gates["c"])
    C = f * C + i * C_tilde
    return o * (torch.tanh(C) if h_tanh else C), C


@checker
def lstm_step(fn):
    """lstm_step(x_t, h, C, W, b) = (h_t, C_t), with ONE matrix W = [W_f; W_i; W_C; W_o] (4·n_hidden,
    n_hidden + n_in) acting on [h_{t-1}, x_t] and b = [b_f; b_i; b_c; b_o]."""
    x_t, h, C, p = _case()
    W = torch.cat([torch.cat([p[f"W_h{g}"], p[f"W_x{g}"]], 1) for g in "fico"])
    b = torch.cat([p[f"b_{g}"] for g in "fico"])
    with forbid(fn, "lmutils.recurrent.lstm_forward", "lmutils.recurrent.lstm_stack_forward", "torch.lstm_cell"):
        got, bad = _tensors(fn, (x_t.clone(), h.clone(), C.clone(), W.clone(), b.clone()), 2,
                            "lstm_step should return two tensors, the new (h, C).")
    if bad is not None:
        if "shape" in bad.message or "size" in bad.message:
            return hint(f"{bad.message} Write down the shapes: [h, x_t] is (B, n_hidden + n_in), W is "
                        "(4·n_hidden, n_hidden + n_in), b is (4·n_hidden,).",
                        f"{bad.message} Concatenate [h, x_t] along dim 1, multiply by W transposed: (B, 4·n_hidden), "
                        "then cut that in four along dim 1.")
        return bad
    h_new, C_new = got
    if h_new.shape != h.shape or C_new.shape != C.shape:
        return hint(f"h and C keep their shape (B, n_hidden) = {tuple(h.shape)}; got {tuple(h_new.shape)} and "
                    f"{tuple(C_new.shape)}.",
                    f"h and C keep their shape (B, n_hidden) = {tuple(h.shape)}; got {tuple(h_new.shape)} and "
                    f"{tuple(C_new.shape)}. W produces all four gates at once: cut its output in four.")
    want_h, want_C = lstm_forward(x_t[:, None], h, C, **p)[:2]
    if close(h_new, want_h[:, 0]) and close(C_new, want_C[:, 0]):
        return correct("one matrix for the four gates: what nn.LSTM's weight_ih and weight_hh are, side by side.")
    if close(C_new, want_C[:, 0]):
        if close(h_new, _step(x_t, h, C, W, b, h_tanh=False)[0]):
            return hint("C is right; h is the output gate times a squashed cell state.")
        return hint("C is right; check h.", "C is right; h = o ⊙ tanh(C), with o from the last block of rows.")
    if close(h_new, _step(x_t, h, C, W, b, order="ifco")[0]):
        return hint("the forget gate and the input gate are swapped: which one multiplies the old cell state?")
    if any(close(h_new, _step(x_t, h, C, W, b, order=o)[0]) for o in ("icfo", "fioc", "ocif", "ifoc")):
        return hint("the gates come from the wrong blocks of rows: in which order are they stacked in W?",
                    "W = [W_f; W_i; W_C; W_o]: rows 0..n feed f, n..2n feed i, 2n..3n feed C̃, 3n..4n feed o.")
    if close(h_new, _step(x_t, h, C, W, b, hx=False)[0]):
        return hint("the order of the concatenation: which columns of W multiply h_{t-1}, which x_t?",
                    "W acts on [h_{t-1}, x_t]: h comes first in the concatenation.")
    if close(C_new, _step(x_t, h, C, W, b, c_act=torch.sigmoid)[1]):
        return hint("the candidate C̃ uses a different nonlinearity from the gates: it can be negative.")
    if torch.equal(h_new, h) and torch.equal(C_new, C):
        return hint("you return the state you were given: compute the new one.")
    return hint("compute all four pre-activations at once from [h, x_t], then cut them into f, i, C̃ and o.",
                "z = [h, x_t] Wᵀ + b is (B, 4·n_hidden); z.chunk(4, dim=1) gives f, i, C̃, o before their "
                "nonlinearities (σ, σ, tanh, σ); then C and h as in the equations.",
                "z = torch.cat([h, x_t], 1) @ W.T + b; f, i, c, o = z.chunk(4, 1); C = σ(f)·C + σ(i)·tanh(c); "
                "h = σ(o)·tanh(C).")


@checker
def forget_gate(fn):
    """forget_gate(lstm) = (W_xf, W_hf, b_f) = rows n..2n of PyTorch's stacked weights, b_ih + b_hh."""
    with seeded(0):
        lstm = nn.LSTM(3, 4)
    with forbid(fn, "lmutils.recurrent.lstm_params_from_torch"):
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
                return hint("those are the weights of another gate: in which order does PyTorch stack its gates?",
                            "PyTorch stacks its gates as i, f, g, o: the forget gate is the second block of rows.")
            if close(b_f, b_ih[r] + b_hh[r]):
                return correct("rows n to 2n of each stacked matrix, and both biases added.")
            if torch.equal(b_f, b_ih[r]) or torch.equal(b_f, b_hh[r]):
                return hint("the weights are right; PyTorch keeps two bias vectors, and the gate sees their sum.")
            return hint("the weights are right; check the bias.")
    return hint("W_xf and W_hf are not blocks of rows of weight_ih_l0 and weight_hh_l0: print their shapes.",
                "cut weight_ih_l0 and weight_hh_l0 in four along the rows; PyTorch's order is i, f, g, o.",
                "rows n..2n (n = hidden_size) of weight_ih_l0 and of weight_hh_l0, and bias_ih_l0 + bias_hh_l0 "
                "over the same rows.")


@checker
def forget_bias(answer):
    """b_f such that σ(b_f)^100 = 1/2: b_f = logit(0.5 ** (1/100)) ≈ 4.97."""
    if unanswered(answer):
        return placeholder()
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
        return hint("that is a log of f: the bias is what goes INTO the sigmoid. Invert σ.",
                    "invert the sigmoid: if f = σ(b), then b = log(f / (1 − f)).")
    if 0 < value < 50 and abs((1 / (1 + math.exp(-value))) ** 100 - 0.5) < 0.05:
        return hint("close: give 2 decimals.")
    return hint("what fraction of the cell state survives one step? And 100 steps?",
                "after 100 steps the cell keeps f·f·…·f = f¹⁰⁰ of its value: solve f¹⁰⁰ = 1/2, then f = σ(b_f).",
                "f = 0.5 ** (1 / 100), then b_f = log(f / (1 − f)).")


@checker
def lstm_params(fn):
    """lstm_params(n_in, n_hidden) = 4 (n_hidden n_in + n_hidden² + 2 n_hidden)."""
    for n_in, n_hidden in [(3, 4), (32, 128), (10, 1)]:
        with seeded(0):
            want = sum(w.numel() for w in nn.LSTM(n_in, n_hidden).parameters())
        with forbid(fn, "torch.nn.LSTM", "torch.nn.LSTMCell", "lmutils.models.num_params", "lmutils.models.LSTMLM"):
            got, bad = _count(fn, "lstm_params", n_in, n_hidden)
        if bad is not None:
            return bad
        if got == want:
            continue
        if got * 4 == want:
            return hint("that is one gate's worth: the LSTM has four sets of weights (f, i, C̃, o).")
        if got == want - 4 * n_hidden:
            return hint("PyTorch keeps two bias vectors per gate.")
        if got == want - 8 * n_hidden:
            return hint("the biases are missing.")
        return hint(f"for n_in = {n_in}, n_hidden = {n_hidden} nn.LSTM has a different count: list what one gate "
                    "has, from the equations.",
                    f"for n_in = {n_in}, n_hidden = {n_hidden} nn.LSTM has a different count: each of the four gates "
                    "has an input matrix, a recurrent matrix and biases.",
                    "4 gates × (n_hidden·n_in + n_hidden·n_hidden + 2·n_hidden).")
    return correct("four gates, each with W_x (n_hidden × n_in), W_h (n_hidden × n_hidden) and two biases.")
