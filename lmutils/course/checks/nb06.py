"""Checkers for notebook 06 (attention)."""

import functools
import itertools
import math

import torch
import torch.nn.functional as F

from ...attention import causal_mask, sinusoidal_positions
from ..i18n import _
from . import attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, seeded, \
    shape_of, unanswered, uniform
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

ATTENTION_OPS = ("scaled_dot_product", "multi_head_attention")  # F.sdpa and its kernels, nn.MultiheadAttention
OWN_ATTENTION = ("lmutils.attention.scaled_dot_product_attention", "lmutils.attention.MultiHeadAttention.forward",
                 "lmutils.models.CausalSelfAttention.forward")


def _reference(Q, K, V, blocked):
    S = (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).masked_fill(blocked, float("-inf"))
    return S.softmax(-1).nan_to_num(0.0) @ V      # a query that may see no key gets zeros, as F.sdpa gives


@checker
def attention(fn):
    """my_attention(Q, K, V, blocked) = softmax(Q Kᵀ/√d_k) V, where the boolean mask `blocked` follows
    nn.MultiheadAttention's convention (True = may NOT attend), and a query whose keys are all blocked gets 0."""
    for lead in [(integer(1, 3),), (integer(1, 2), integer(1, 3)), (2, 2)]:
        T_q, T_k, d_k, d_v = integer(2, 6), integer(2, 7), integer(2, 8), integer(1, 5)
        Q = torch.randn(*lead, T_q, d_k, generator=rng())
        K, V = torch.randn(*lead, T_k, d_k, generator=rng()), torch.randn(*lead, T_k, d_v, generator=rng())
        blocked = torch.rand(T_q, T_k, generator=rng()) < 0.4
        blocked[integer(0, T_q - 1)] = True                      # one query may see nothing
        blocked[integer(0, T_q - 1), integer(0, T_k - 1)] = False
        with forbid(fn, *OWN_ATTENTION, ops=ATTENTION_OPS, notebook=("attention", "multi_head_attention")):
            got, err = attempt(fn, Q.clone(), K.clone(), V.clone(), blocked.clone())
        if err is not None:
            return err
        want = _reference(Q, K, V, blocked)
        if not torch.is_tensor(got) or got.shape != want.shape:
            if torch.is_tensor(got) and got.shape == (*lead, T_q, T_k):
                return hint(_("that is the shape of the attention weights (…, T_q, T_k): the output is the weights "
                              "times V."))
            return hint(_("for Q {Q}, K {K}, V {V} the output has shape (…, T_q, d_v) = {want}; yours is {got}.",
                          Q=tuple(Q.shape), K=tuple(K.shape), V=tuple(V.shape), want=tuple(want.shape),
                          got=shape_of(got)))
        if close(got, want, 1e-4):
            continue
        full = blocked.all(-1)
        if torch.isnan(got).any():
            return hint(_("your output has NaN in the rows of queries whose keys are all blocked: the softmax of a "
                          "row of −∞ is 0/0."),
                        _("a query that may attend to nothing should get zeros (as F.scaled_dot_product_attention "
                          "gives): replace the NaN weights of such rows by 0, or zero those rows of the output."))
        if close(got[..., ~full, :], _reference(Q, K, V, ~blocked)[..., ~full, :], 1e-4):
            return hint(_("you attend exactly where the mask says blocked: here True means may NOT attend "
                          "(nn.MultiheadAttention's convention), the opposite of the notebook's masks."))
        if close(got[..., ~full, :], want[..., ~full, :], 1e-4):
            return hint(_("right for every query but those whose keys are all blocked: what should a query get "
                          "when it may see nothing?"),
                        _("such a query gets a row of zeros (as F.scaled_dot_product_attention gives)."))
        S = Q @ K.transpose(-2, -1)
        unscaled = S.masked_fill(blocked, float("-inf")).softmax(-1).nan_to_num(0.0) @ V
        if close(got, unscaled, 1e-4):
            return hint(_("close: the equation has one more operation on the scores before the softmax."),
                        _("close: divide the scores by √d_k before the softmax."))
        return hint(_("not the expected values: follow the equation from the inside out, check each shape, and "
                      "apply the mask to the scores before the softmax."),
                    _("scores Q Kᵀ/√d_k (…, T_q, T_k); −∞ where blocked is True; softmax over the keys (the last "
                      "axis); rows that are all −∞ give NaN: make them 0; then times V."),
                    _("S = (Q @ K.transpose(-2, -1) / math.sqrt(d_k)).masked_fill(__, float(\"-inf\")); "
                      "A = S.softmax(-1).nan_to_num(__)"))
    return correct(_("the same as F.scaled_dot_product_attention(Q, K, V, attn_mask=~blocked), fully blocked "
                     "rows included."))


@checker
def score_scale(fn):
    """score_scale(d_k, sigma_q, sigma_k) = the factor s such that s·(q·k) has standard deviation 1, for q and k
    with independent entries of mean 0 and standard deviations sigma_q and sigma_k."""
    cases = [(2 ** integer(0, 10), uniform(0.2, 3), uniform(0.2, 3)) for _i in range(3)] + [(integer(2, 300), 1.0,
                                                                                             1.0)]
    for d_k, sq, sk in cases:
        got, err = attempt(fn, d_k, sq, sk)
        if err is not None:
            return err
        s = number(got)
        if s is None:
            return hint(_("score_scale should return one number, got {kind}.", kind=type(got).__name__))
        want = 1 / (math.sqrt(d_k) * sq * sk)
        if math.isclose(s, want, rel_tol=1e-6):
            continue
        q = sq * torch.randn(4000, d_k, generator=rng())
        k = sk * torch.randn(4000, d_k, generator=rng())
        sampled = (s * (q * k).sum(-1)).std().item()
        where = _("for d_k = {d}, σ_q = {sq:.3g}, σ_k = {sk:.3g}", d=d_k, sq=sq, sk=sk)
        if math.isclose(s, 1 / math.sqrt(d_k), rel_tol=1e-6):
            return hint(_("{where} your factor 1/√d_k leaves the scores with a standard deviation of about {std:.3g} "
                          "(sampled): right only when the entries have standard deviation 1.", where=where,
                          std=sampled),
                        _("each term q_i·k_i has variance σ_q²·σ_k²; the sum of d_k of them d_k·σ_q²·σ_k²."))
        return hint(_("{where} scores scaled by your factor have a standard deviation of about {std:.3g} (sampled), "
                      "not 1.", where=where, std=sampled),
                    _("q·k is a sum of d_k independent terms q_i·k_i: what is the variance of one term, and of the "
                      "sum? Then the standard deviation, and its inverse."),
                    _("s = 1 / (math.sqrt(__) * __ * __)"))
    return correct(_("1/√d_k is this factor for entries of standard deviation 1: whatever d_k, the softmax then "
                     "sees scores of the same size."))


@checker
def split_qkv(fn):
    """split_qkv(qkv, n_head): qkv (B, T, 3·C) from one fused projection, [q | k | v] along the last axis →
    (q, k, v), each (B, n_head, T, C // n_head), head i holding features i·d_k … (i+1)·d_k − 1 of its part."""
    for B, T, n_head, d_k in [(integer(1, 3), integer(2, 5), integer(2, 4), integer(2, 4)) for _i in range(2)]:
        C = n_head * d_k
        qkv = torch.arange(B * T * 3 * C, dtype=torch.float32).view(B, T, 3 * C) + uniform(0, 1)
        with forbid(fn, "lmutils.attention.MultiHeadAttention.split_heads",
                    notebook=("multi_head_attention", "split_heads")):
            got, err = attempt(fn, qkv.clone(), n_head)
        if err is not None:
            return err
        want = [t.view(B, T, n_head, d_k).transpose(1, 2) for t in qkv.split(C, dim=-1)]
        if not isinstance(got, (tuple, list)) or len(got) != 3 or not all(torch.is_tensor(t) for t in got):
            return hint(_("return three tensors: (q, k, v)."))
        if any(t.shape != want[0].shape for t in got):
            return hint(_("for qkv of shape {shape} and {h} heads each of q, k, v has shape (B, n_head, T, d_k) = "
                          "{want}; yours are {got}.", shape=tuple(qkv.shape), h=n_head, want=tuple(want[0].shape),
                          got=", ".join(str(tuple(t.shape)) for t in got)))
        if all(torch.equal(a, b) for a, b in zip(got, want)):
            continue
        interleaved = qkv.view(B, T, n_head, 3, d_k).permute(3, 0, 2, 1, 4)
        if all(torch.equal(a, b) for a, b in zip(got, interleaved)):
            return hint(_("right shapes, wrong content: you read qkv as the three parts of each head side by side; "
                          "it is all of q first, then all of k, then all of v."),
                        _("cut the last axis into three blocks of C first (q, k, v), then split each into its heads."))
        if any(all(torch.equal(a, b) for a, b in zip(got, order)) for order in itertools.permutations(want)):
            return hint(_("the parts are in another order: qkv holds q first, then k, then v."))
        return hint(_("right shapes, wrong content: head i of token t should hold features i·d_k … (i+1)·d_k − 1 "
                      "of that token's q (and likewise k, v). Print a small example."),
                    _("viewing (B, T, C) directly as (B, n_head, T, d_k) mixes up tokens and heads: split the last "
                      "axis first, (B, T, n_head, d_k), then swap two axes."),
                    _("q, k, v = qkv.split(__, dim=-1); q.view(B, T, n_head, __).transpose(__, __)"))
    return correct(_("what GPT's attention does with its one stacked qkv matrix: one matrix product for all heads, "
                     "then a view."))


@checker
def positional_encoding(fn):
    """positional_encoding(T, d_model, base): the sinusoidal table PE[pos, 2i] = sin(pos / base^(2i/d_model)),
    PE[pos, 2i+1] = cos(the same angle)."""
    cases = [(integer(5, 40), 2 * integer(2, 12), float(integer(50, 20000))) for _i in range(3)]
    cases += [(1, 2, 10000.0), (integer(2, 10), 2 * integer(1, 4), 100.0)]
    for T, d, base in cases:
        with forbid(fn, "lmutils.attention.sinusoidal_positions", "lmutils.attention.PositionalEncoding.__init__"):
            got, err = attempt(fn, T, d, base)
        if err is not None:
            return err
        want = sinusoidal_positions(T, d, base=base)
        if not torch.is_tensor(got) or got.shape != want.shape:
            return hint(_("for T = {T}, d_model = {d} the table has shape ({T}, {d}); yours is {got}.", T=T, d=d,
                          got=shape_of(got)))
        if close(got, want, 1e-4):
            continue
        where = _("for T = {T}, d_model = {d}, base {base:g}", T=T, d=d, base=base)
        if close(got[:, 0::2], want[:, 1::2], 1e-4) and close(got[:, 1::2], want[:, 0::2], 1e-4):
            return hint(_("sine and cosine are swapped: even columns (2i) hold the sine."))
        if base != 10000 and close(got, sinusoidal_positions(T, d), 1e-4):
            return hint(_("{where} your table is the one for base 10000: use the base you are given.", where=where))
        pos = torch.arange(T, dtype=torch.float64)[:, None]
        per_column = pos / base ** (torch.arange(d) / d)              # a typical slip: j/d per column, not 2i/d
        if close(got[:, 1::2], torch.cos(per_column[:, 1::2]), 1e-4):
            return hint(_("check the exponent: the pair of columns (2i, 2i+1) shares one frequency, "
                          "1/base^(2i/d_model)."))
        if close(got[:, 0], want[:, 0], 1e-4):
            return hint(_("{where} the first column is right; check the frequencies of the others.", where=where),
                        _("{where} the first column is right; column pair i turns with frequency 1/base^(2i/d_model).",
                          where=where))
        return hint(_("compare your table with the equation column by column, starting with column 0 (pos itself, "
                      "through a sine)."),
                    _("PE[pos, 2i] = sin(pos / base^(2i/d_model)) and PE[pos, 2i+1] = cos(the same angle)."),
                    _("angle = pos[:, None] / base ** (torch.arange(0, d_model, 2) / __); pe[:, 0::2] = __"))
    return correct(_("the same table as sinusoidal_positions, for any length, width and base."))


@functools.lru_cache(maxsize=64)  # the same settings train the same model: measured once
def copy_back_accuracy(positions: str, learning_rate: float, back: int, V: int = 8, T: int = 12, d: int = 32,
                       steps: int = 200, seed: int = 0) -> float:
    """One causal self-attention layer (embeddings, W_Q, W_K, W_V, a linear head) learns to output, at every
    position, the token `back` positions earlier; positions are "none", "sinusoidal" (added, fixed) or "learned"
    (added, trained). Its accuracy on 500 new sequences after `steps` steps."""
    with seeded(seed):
        embed, head = torch.nn.Embedding(V, d), torch.nn.Linear(d, V)
        W_q, W_k, W_v = (torch.nn.Linear(d, d, bias=False) for _i in range(3))
        table = {"none": torch.zeros(T, d), "sinusoidal": sinusoidal_positions(T, d),
                 "learned": torch.nn.Parameter(0.1 * torch.randn(T, d))}[positions]
    params = [p for m in (embed, head, W_q, W_k, W_v) for p in m.parameters()]
    params += [table] if positions == "learned" else []
    opt = torch.optim.Adam(params, lr=learning_rate)
    mask = causal_mask(T)

    def forward(x):
        h = embed(x) + table
        return head(F.scaled_dot_product_attention(W_q(h), W_k(h), W_v(h), attn_mask=mask))

    g = torch.Generator().manual_seed(seed + 1)
    for _step in range(steps):
        x = torch.randint(0, V, (32, T), generator=g)
        loss = F.cross_entropy(forward(x)[:, back:].flatten(0, 1), x[:, :-back].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.randint(0, V, (500, T), generator=torch.Generator().manual_seed(seed + 99))
    with torch.no_grad():
        return (forward(x)[:, back:].argmax(-1) == x[:, :-back]).float().mean().item()


POSITIONS = ("none", "sinusoidal", "learned")


@checker
def word_order(settings):
    """Experiment: settings = dict(positions="none" | "sinusoidal" | "learned", learning_rate=...); one attention
    layer trained for 200 steps must output the token k places back (k drawn by the checker, 1 to 4) with at
    least 95 % accuracy."""
    if unanswered(settings):
        return placeholder()
    if not isinstance(settings, dict) or set(settings) != {"positions", "learning_rate"}:
        return hint(_("give a dict with two keys: dict(positions=\"none\", learning_rate=0.01), say."))
    kind, lr = settings["positions"], number(settings["learning_rate"])
    if kind not in POSITIONS:
        return hint(_("positions must be one of {names}, got {got!r}.", names=", ".join(POSITIONS), got=kind))
    if lr is None or not 1e-5 <= lr <= 1:
        return hint(_("learning_rate must be a number between 1e-5 and 1."))
    back = integer(1, 4)
    acc = copy_back_accuracy(kind, lr, back)
    if acc >= 0.95:
        return correct(_("positions {kind}, η = {lr:g}: {acc:.0%} of the tokens {k} place(s) back found. With "
                         "positions added to the embeddings, a query can ask for \"the token {k} before me\".",
                         kind=kind, lr=lr, acc=acc, k=back))
    if kind == "none":
        return hint(_("without positions: {acc:.0%} of the tokens {k} place(s) back found. Which token is {k} "
                      "place(s) back, if attention cannot see where a token is?", acc=acc, k=back),
                    _("attention without positions only sees which tokens came before, not in which order (the "
                      "\"dog bit the man\" cell above): add a position code to each embedding."))
    return hint(_("positions {kind}, η = {lr:g}: {acc:.0%} of the tokens {k} place(s) back found, not 95%. Try "
                  "learning rates ten times apart.", kind=kind, lr=lr, acc=acc, k=back))
