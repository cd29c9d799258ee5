"""Checkers for notebook 05 (LSTM)."""

import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...recurrent import lstm_forward
from ..i18n import _
from . import attempt, call, checker, close, correct, forbid, hint, integer, number, placeholder, rng, seeded, \
    unanswered, uniform
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

GRU_OPS = ("gru",)      # nn.GRU, nn.GRUCell, torch.gru_cell, torch._VF.gru, the fused kernels
LSTM_OPS = ("lstm",)


def _randomise(module):
    with torch.no_grad():
        for w in module.parameters():
            w.copy_(torch.randn(w.shape, generator=rng()))
    return module


def _gru_variant(x, h, W_ih, W_hh, b_ih, b_hh, order="rzn", reset_inside=True, swap_z=False, hh_bias=True):
    """One GRU step in PyTorch's layout, or one of the typical slips."""
    gi = dict(zip(order, (x @ W_ih.T + b_ih).chunk(3, 1)))
    gh = dict(zip(order, (h @ W_hh.T + (b_hh if hh_bias else 0)).chunk(3, 1)))
    r, z = torch.sigmoid(gi["r"] + gh["r"]), torch.sigmoid(gi["z"] + gh["z"])
    if reset_inside:
        n = torch.tanh(gi["n"] + r * gh["n"])
    else:
        n = torch.tanh(gi["n"] + r * (h @ W_hh.T).chunk(3, 1)[order.index("n")] + b_hh.chunk(3)[order.index("n")])
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


@checker
def gru_step(fn):
    """gru_step(x_t, h, W_ih, W_hh, b_ih, b_hh) = the new h of nn.GRU for one step, its weights stacked in
    PyTorch's order r, z, n: W_ih (3·n_hidden, n_in), W_hh (3·n_hidden, n_hidden)."""
    for B, n_in, H in [(integer(1, 4), integer(2, 6), integer(2, 6)) for _i in range(3)]:
        with seeded(0):
            gru = _randomise(nn.GRU(n_in, H, batch_first=True))
        x, h = torch.randn(B, n_in, generator=rng()), torch.randn(B, H, generator=rng())
        W_ih, W_hh, b_ih, b_hh = (p.detach().clone() for p in (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0,
                                                                 gru.bias_hh_l0))
        with torch.no_grad():
            want = gru(x[:, None], h[None])[0][:, 0]
        with forbid(fn, ops=GRU_OPS):
            got, err = attempt(fn, x.clone(), h.clone(), W_ih.clone(), W_hh.clone(), b_ih.clone(), b_hh.clone())
        if err is not None:
            return err
        if not torch.is_tensor(got) or got.shape != h.shape:
            return hint(_("gru_step returns the new hidden state, shape (B, n_hidden) = {want}; got {got}.",
                          want=tuple(h.shape), got=tuple(got.shape) if torch.is_tensor(got) else type(got).__name__))
        if close(got, want):
            continue
        args = (x, h, W_ih, W_hh, b_ih, b_hh)
        if close(got, _gru_variant(*args, swap_z=True)):
            return hint(_("z and 1 − z are swapped: in PyTorch's GRU, z is the share of the OLD state kept."))
        if close(got, _gru_variant(*args, reset_inside=False)):
            return hint(_("almost: in PyTorch's GRU the reset gate multiplies (W_hn h + b_hn), its bias included."))
        if close(got, _gru_variant(*args, hh_bias=False)):
            return hint(_("the hidden-to-hidden biases b_hh are missing: PyTorch adds both bias vectors."))
        if any(close(got, _gru_variant(*args, order=o)) for o in ("zrn", "nrz", "rnz", "znr", "nzr")):
            return hint(_("the gates come from the wrong blocks of rows: in which order does PyTorch stack them?"),
                        _("PyTorch stacks the GRU's gates as r, z, n: rows 0..n of W_ih and W_hh feed r, then z, "
                          "then n."))
        return hint(_("write the GRU's equations as in the exercise, for a batch of row vectors: the input part "
                      "x W_ihᵀ + b_ih and the hidden part h W_hhᵀ + b_hh, each cut in three (r, z, n)."),
                    _("r and z are sigmoids of the sums of their input and hidden parts; n is the tanh of the input "
                      "part plus r times the hidden part; the new h mixes n and the old h with z."),
                    _("gi, gh = (x_t @ W_ih.T + b_ih).chunk(3, 1), (h @ W_hh.T + b_hh).chunk(3, 1); "
                      "n = torch.tanh(gi[2] + __ * gh[2]); return (1 - z) * __ + z * __"))
    return correct(_("the same as nn.GRU: two gates instead of the LSTM's three, and no separate cell state."))


def _seeds_reference(x, W, b):
    """The seeds' LSTM, W = [W_f; W_i; W_C; W_o] on [h, x], b = [b_f; b_i; b_C; b_o], from zero state."""
    n = W.shape[0] // 4
    p = {}
    for k, g in enumerate("fico"):
        rows = slice(k * n, (k + 1) * n)
        p.update({f"W_h{g}": W[rows, :n], f"W_x{g}": W[rows, n:], f"b_{g}": b[rows]})
    return lstm_forward(x, None, None, **p).h


@checker
def load_seeds_lstm(fn):
    """load_seeds_lstm(lstm, W, b): copy the seeds' stacked weights W = [W_f; W_i; W_C; W_o] (4n, n + n_in), acting
    on [h_{t-1}, x_t], and b = [b_f; b_i; b_C; b_o] into an nn.LSTM, so that it computes the seeds' LSTM."""
    for n_in, n in [(integer(2, 5), integer(2, 5)) for _i in range(2)] + [(integer(2, 5), 1)]:
        if n_in == n:
            n_in += 1
        with seeded(integer(0, 1000)):
            lstm = nn.LSTM(n_in, n, batch_first=True)         # PyTorch's own random initial weights
        W, b = torch.randn(4 * n, n + n_in, generator=rng()), torch.randn(4 * n, generator=rng())
        x = torch.randn(3, integer(2, 6), n_in, generator=rng())
        before = {k: v.clone() for k, v in lstm.state_dict().items()}
        if unanswered(fn):
            return placeholder()
        with forbid(fn, "lmutils.recurrent.lstm_params_to_torch", "lmutils.recurrent.rnn_params_to_torch",
                    "lmutils.recurrent._copy_into"):
            got, err = call(fn, lstm, W.clone(), b.clone())
        if err is not None:
            return err
        model = got if isinstance(got, nn.LSTM) else lstm
        if model is lstm and all(torch.equal(v, before[k]) for k, v in lstm.state_dict().items()):
            return placeholder(_("your function leaves the LSTM as it was: copy the weights into it (under "
                                 "torch.no_grad(), with .copy_()), then run the cell again."))
        with torch.no_grad():
            out = model(x)[0]
        want = _seeds_reference(x, W, b)
        if close(out, want, 1e-4):
            continue
        ih, hh = model.weight_ih_l0.detach(), model.weight_hh_l0.detach()
        blocks = {g: slice(k * n, (k + 1) * n) for k, g in enumerate("fico")}
        torch_rows = {g: slice(k * n, (k + 1) * n) for k, g in enumerate("ifco")}
        W_h, W_x = W[:, :n], W[:, n:]
        if ih.shape != (4 * n, n_in) or hh.shape != (4 * n, n):
            return hint(_("the LSTM's weights must keep their shapes: weight_ih_l0 {ih}, weight_hh_l0 {hh}.",
                          ih=(4 * n, n_in), hh=(4 * n, n)))
        torch_W = torch.cat([W[blocks[g]] for g in "ifco"])     # the seeds' rows in PyTorch's order
        if torch.equal(ih, torch_W[:, :n_in]) or torch.equal(ih, W[:, :n_in]):
            return hint(_("the columns: W acts on [h, x], so its first n_hidden columns multiply h (weight_hh_l0) "
                          "and the rest multiply x (weight_ih_l0)."))
        if torch.equal(ih, W_x) and torch.equal(hh, W_h):
            return hint(_("you copied the blocks in the seeds' order f, i, C, o: PyTorch stacks its gates as i, f, "
                          "g, o (g is C̃)."),
                        _("rows n..2n of PyTorch's matrices are the forget gate, rows 0..n the input gate: swap the "
                          "first two blocks."))
        order_ok = all(torch.equal(ih[torch_rows[g]], W_x[blocks[g]]) and torch.equal(hh[torch_rows[g]],
                                                                                      W_h[blocks[g]]) for g in "fico")
        if order_ok:
            total = (model.bias_ih_l0 + model.bias_hh_l0).detach()
            if all(torch.equal(model.bias_ih_l0.detach()[torch_rows[g]], b[blocks[g]]) for g in "fico"):
                return hint(_("the weights are right; the gates see bias_ih_l0 + bias_hh_l0, and bias_hh_l0 still "
                              "holds PyTorch's random start."),
                            _("put the seeds' bias in one of the two vectors and zeros in the other (their sum is "
                              "what counts)."))
            if not close(torch.cat([total[torch_rows[g]] for g in "fico"]), b):
                return hint(_("the weights are right; check the biases: their sum, in PyTorch's gate order, must be "
                              "the seeds' b."))
        return hint(_("compare the two layouts: the seeds' W is (4n, n + n_in) on [h, x] in the order f, i, C, o; "
                      "PyTorch has weight_ih_l0 (4n, n_in) and weight_hh_l0 (4n, n), in the order i, f, g, o."),
                    _("cut W into its four blocks of rows and each block into its h columns and its x columns; "
                      "copy them (under torch.no_grad()) into PyTorch's matrices in PyTorch's order."),
                    _("W_f, W_i, W_C, W_o = W.chunk(__); stacked = torch.cat([__, __, __, __]); "
                      "lstm.weight_hh_l0.copy_(stacked[:, :__]); lstm.weight_ih_l0.copy_(stacked[:, __:])"))
    return correct(_("the same LSTM in two layouts: PyTorch's two matrices, and the seeds' one on [h, x]."))


@checker
def forget_bias(fn):
    """forget_bias(fraction, steps) = b_f such that a cell state multiplied by f = σ(b_f) at every step keeps
    `fraction` of its value after `steps` steps: σ(b_f)^steps = fraction."""
    cases = [(uniform(0.05, 0.95), integer(2, 500)) for _i in range(4)] + [(0.5, 1)]
    for fraction, steps in cases:
        got, err = attempt(fn, fraction, steps)
        if err is not None:
            return err
        value = number(got)
        if value is None:
            return hint(_("return one number, the bias b_f, got {kind}.", kind=type(got).__name__))
        f = 1 / (1 + math.exp(-value)) if value > -700 else 0.0
        kept = f ** steps
        if math.isclose(kept, fraction, rel_tol=1e-4):
            continue
        where = _("for {k} steps and a fraction {p:.3g}", k=steps, p=fraction)
        want_f = fraction ** (1 / steps)
        if math.isclose(value, want_f, rel_tol=1e-4):
            return hint(_("{where}: that is the forget gate's value f; the question asks for the bias b_f with "
                          "σ(b_f) = f.", where=where))
        if math.isclose(value, math.log(want_f), rel_tol=1e-4) or math.isclose(value, -math.log(want_f), rel_tol=1e-4):
            return hint(_("{where}: that is a log of f: the bias is what goes INTO the sigmoid. Invert σ.",
                          where=where),
                        _("invert the sigmoid: if f = σ(b), then b = log(f / (1 − f))."),
                        _("b_f = math.log(f / (1 - __))"))
        return hint(_("{where}: with b_f = {b:.4g} the gate is f = σ(b_f) = {f:.5f}, and the cell keeps f^{k} = "
                      "{kept:.4g} of its value, not {p:.3g}.", where=where, b=value, f=f, k=steps, kept=kept,
                      p=fraction),
                    _("first the f that keeps the fraction after that many steps (f multiplied by itself, steps "
                      "times), then the b_f with σ(b_f) = f."),
                    _("f = fraction ** (1 / __); b_f = math.log(f / (1 - __))"))
    return correct(_("the longer the memory, the closer f must be to 1, and the larger b_f: keeping half over 100 "
                     "steps takes b_f ≈ 5, far above the b_f = 1 implementations start with."))


@functools.lru_cache(maxsize=64)  # the same settings train the same model: measured once
def memory_accuracy(forget_bias: float, learning_rate: float, T: int = 30, V: int = 4, H: int = 32, steps: int = 300,
                    seed: int = 0) -> float:
    """An LSTM (embedding 8, n_hidden H) learns to recall the first of T random symbols out of V at the last step,
    with its forget-gate bias started at `forget_bias`: its accuracy on 1,000 new sequences after `steps` steps."""
    with seeded(seed):
        embed, lstm, head = nn.Embedding(V, 8), nn.LSTM(8, H, batch_first=True), nn.Linear(H, V)
    with torch.no_grad():
        lstm.bias_ih_l0[H:2 * H] = forget_bias                 # PyTorch's order i, f, g, o: rows H..2H are f
        lstm.bias_hh_l0[H:2 * H] = 0.0
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=learning_rate)
    g = torch.Generator().manual_seed(seed + 1)
    for _step in range(steps):
        x = torch.randint(0, V, (64, T), generator=g)
        loss = F.cross_entropy(head(lstm(embed(x))[0][:, -1]), x[:, 0])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    x = torch.randint(0, V, (1000, T), generator=torch.Generator().manual_seed(seed + 99))
    with torch.no_grad():
        return (head(lstm(embed(x))[0][:, -1]).argmax(1) == x[:, 0]).float().mean().item()


@checker
def long_memory(settings):
    """Experiment: settings = dict(forget_bias=..., learning_rate=...); a small LSTM trained for 300 steps must
    recall the first of 30 symbols with at least 90 % accuracy."""
    if unanswered(settings):
        return placeholder()
    if not isinstance(settings, dict) or set(settings) != {"forget_bias", "learning_rate"}:
        return hint(_("give a dict with two keys: dict(forget_bias=0.0, learning_rate=0.01), say."))
    b_f, lr = number(settings["forget_bias"]), number(settings["learning_rate"])
    if b_f is None or lr is None or not -20 <= b_f <= 20 or not 1e-5 <= lr <= 1:
        return hint(_("forget_bias must be a number between −20 and 20, learning_rate one between 1e-5 and 1."))
    acc = memory_accuracy(b_f, lr)
    if acc >= 0.9:
        return correct(_("b_f = {b:g}, η = {lr:g}: {acc:.0%} of the first symbols recalled after 30 steps. With "
                         "f = σ({b:g}) = {f:.3f} the gradient reaches back 30 steps from the start of training.",
                         b=b_f, lr=lr, acc=acc, f=1 / (1 + math.exp(-b_f))))
    f = 1 / (1 + math.exp(-b_f))
    return hint(_("b_f = {b:g}, η = {lr:g}: {acc:.0%} recalled (chance is 25%). What fraction of the cell state "
                  "survives 30 steps with f = σ(b_f) = {f:.3f}?", b=b_f, lr=lr, acc=acc, f=f),
                _("with f = {f:.3f}, f^30 = {kept:.2g}: the gradient from the last step barely reaches the first "
                  "symbol. The widget above shows how far back gradients reach for each b_f.", f=f, kept=f ** 30))
