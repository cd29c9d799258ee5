"""Checkers for notebook 11 (a modern language model)."""

import torch

from ...modern import repeat_kv as _repeat_kv
from ...modern import rms_norm as _rms_norm
from ...muon import newton_schulz
from ..i18n import _
from . import attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, unanswered
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

RMS_REFERENCES = ("lmutils.modern.rms_norm", "lmutils.modern.RMSNorm.forward", "torch.nn.RMSNorm.forward",
                  "torch.nn.functional.rms_norm", "torch.nn.LayerNorm.forward", "torch.nn.functional.layer_norm")
KV_REFERENCES = ("lmutils.modern.repeat_kv", "lmutils.modern.attend")


@checker
def rms_norm(fn):
    """rms_norm(x, weight, eps) = x / √(mean(x²) + eps) · weight over the last dimension."""
    for _i in range(3):
        shape = (integer(1, 3), integer(2, 5), integer(3, 12))
        scale = 10 ** integer(-3, 1)  # tiny vectors too: there eps matters
        x = torch.randn(*shape, generator=rng()) * scale + torch.randn(1, generator=rng())
        weight = torch.rand(shape[-1], generator=rng()) + 0.5
        eps = [1e-5, 1e-6, 1e-2][integer(0, 2)]
        with forbid(fn, *RMS_REFERENCES, ops=("rms_norm", "layer_norm")):
            got, err = attempt(fn, x.clone(), weight.clone(), eps)
        if err is not None:
            return err
        if not torch.is_tensor(got) or got.shape != x.shape:
            return hint(_("return a tensor of x's shape {want}, got {got}.", want=tuple(x.shape),
                          got=tuple(got.shape) if torch.is_tensor(got) else type(got).__name__))
        want = _rms_norm(x, weight, eps)
        if close(got, want, 1e-4):
            continue
        centred = x - x.mean(-1, keepdim=True)
        if close(got, centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * weight, 1e-4):
            return hint(_("you subtracted the mean: that is LayerNorm. RMSNorm only divides by the root mean "
                          "square, so the mean of x stays in."))
        if close(got, x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * weight, 1e-4):
            return hint(_("with eps = {eps:g} and tiny vectors your answer differs: eps goes inside the square "
                          "root, added to the mean of the squares.", eps=eps),
                        _("√(mean(x²) + eps), not √mean(x²) + eps."),
                        _("x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + __) * weight"))
        if close(got, want / weight, 1e-4):
            return hint(_("multiply by the gain `weight` at the end."))
        if close(got, x * torch.rsqrt(x.pow(2).mean(0, keepdim=True) + eps) * weight, 1e-4):
            return hint(_("normalise each vector over its own coordinates: the mean over the last dimension."))
        return hint(_("divide each vector (the last dimension) by the root of the mean of its squares plus eps, "
                      "then multiply by the gain."),
                    _("mean(x²) over dim=-1 with keepdim=True, so that it broadcasts back over x."),
                    _("x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + __) * weight"))
    return correct(_("the same as torch.nn.RMSNorm: one reduction (the mean of squares) where LayerNorm has two."))


@checker
def repeat_kv(fn):
    """repeat_kv(k, n_rep): (B, n_kv_head, T, d) → (B, n_kv_head · n_rep, T, d), key/value head j serving
    query heads j·n_rep … (j+1)·n_rep − 1."""
    for n_kv, n_rep in [(integer(2, 4), integer(2, 3)), (1, integer(2, 4)), (integer(2, 3), 1)]:
        k = torch.randn(integer(1, 2), n_kv, integer(2, 5), integer(2, 6), generator=rng())
        with forbid(fn, *KV_REFERENCES):
            got, err = attempt(fn, k.clone(), n_rep)
        if err is not None:
            return err
        want = _repeat_kv(k, n_rep)
        if not torch.is_tensor(got) or got.shape != want.shape:
            return hint(_("with {n} key/value heads and n_rep = {r} the result has shape {want}, yours {got}.",
                          n=n_kv, r=n_rep, want=tuple(want.shape),
                          got=tuple(got.shape) if torch.is_tensor(got) else type(got).__name__))
        if close(got, want, 1e-6):
            continue
        if close(got, k.repeat(1, n_rep, 1, 1), 1e-6):
            return hint(_("the shapes fit but the groups do not: you tiled the heads (0, 1, 0, 1, …), so query "
                          "head 1 meets key/value head 1. Llama's grouping is 0, 0, 1, 1, …: each key/value head "
                          "serves n_rep neighbouring query heads."),
                        _("each head is repeated n_rep times in place, as repeat_interleave does along dim 1."),
                        _("k[:, :, None].expand(B, n_kv, __, T, d).reshape(B, n_kv * n_rep, T, d)"))
        return hint(_("query head h uses key/value head h // n_rep: repeat each key/value head n_rep times, "
                      "next to itself, along dim 1."),
                    _("k[:, j] must appear at heads j·n_rep … (j+1)·n_rep − 1."),
                    _("k[:, :, None].expand(B, n_kv, __, T, d).reshape(B, n_kv * n_rep, T, d)"))
    return correct(_("the grouping of Llama's repeat_kv and of scaled_dot_product_attention(enable_gqa=True)."))


@checker
def kv_cache_bytes(fn):
    """kv_cache_bytes(n_layer, n_kv_head, head_dim, context, batch, bytes_per_number): the memory of a full KV cache."""
    cases = [(integer(1, 40), integer(1, 8), 2 ** integer(4, 7), 2 ** integer(8, 13), integer(1, 8),
              [2, 4][integer(0, 1)]) for _i in range(3)]
    for args in cases:
        L, h, d, T, B, nbytes = args
        got, err = attempt(fn, *args)
        if err is not None:
            return err
        got = number(got)
        if got is None:
            return hint(_("return a number of bytes."))
        want = 2 * L * h * d * T * B * nbytes
        if got == want:
            continue
        where = _("for n_layer={L}, n_kv_head={h}, head_dim={d}, context={T}, batch={B}, {b} bytes per number",
                  L=L, h=h, d=d, T=T, B=B, b=nbytes)
        if got * 2 == want:
            return hint(_("{where}: yours is half the answer: the cache holds the keys and the values.", where=where),
                        _("two tensors per layer, each (batch, n_kv_head, context, head_dim)."),
                        _("return __ * n_layer * n_kv_head * head_dim * context * batch * bytes_per_number"))
        if want and got * nbytes == want:
            return hint(_("{where}: you counted numbers, not bytes: multiply by bytes_per_number.", where=where))
        return hint(_("{where}: the answer is not {got:,}: count the numbers in the cache, then their bytes.",
                      where=where, got=got),
                    _("per layer: keys and values, each batch × n_kv_head × context × head_dim numbers."),
                    _("return __ * n_layer * n_kv_head * head_dim * context * batch * bytes_per_number"))
    return correct(_("Llama 3 8B (32 layers, 8 key/value heads of 128, context 8,192, bfloat16): {gib:.0f} GiB per "
                     "sequence; with 32 key/value heads (no GQA) it would be four times that.",
                     gib=2 * 32 * 8 * 128 * 8192 * 2 / 2 ** 30))


def singular_range(steps: int, coefficients) -> tuple[float, float]:
    """The smallest and largest singular value of newton_schulz(G) over three gradient-like matrices (a few large
    singular values, many tiny ones), in float32."""
    lows, highs = [], []
    g = torch.Generator().manual_seed(11)
    for rows, cols in ((96, 32), (64, 64), (32, 128)):
        U, _r = torch.linalg.qr(torch.randn(rows, rows, generator=g))
        V, _r = torch.linalg.qr(torch.randn(cols, cols, generator=g))
        s = torch.logspace(0, -3, min(rows, cols))
        G = U[:, :len(s)] * s @ V[:, :len(s)].T
        S = torch.linalg.svdvals(newton_schulz(G, steps, coefficients, dtype=torch.float32))
        lows.append(S.min().item())
        highs.append(S.max().item())
    return min(lows), max(highs)


@checker
def ns_steps(settings):
    """Experiment: settings = dict(steps=..., a=..., b=..., c=...): Newton–Schulz with those steps and coefficients
    must bring every singular value of three gradient-like matrices (singular values from 1 down to 0.001) into
    0.5 … 1.5, with at most 6 steps."""
    if unanswered(settings):
        return placeholder()
    if not isinstance(settings, dict) or set(settings) != {"steps", "a", "b", "c"}:
        return hint(_("give a dict with four keys: dict(steps=5, a=3.4445, b=-4.7750, c=2.0315), say."))
    steps, coefficients = number(settings["steps"]), tuple(number(settings[k]) for k in "abc")
    if steps is None or steps != int(steps) or not 1 <= steps <= 6 or None in coefficients:
        return hint(_("steps must be a whole number from 1 to 6, a, b and c numbers."))
    low, high = singular_range(int(steps), coefficients)
    if 0.5 <= low and high <= 1.5:
        return correct(_("{n} step(s) with ({a:g}, {b:g}, {c:g}): every singular value between {low:.2f} and "
                         "{high:.2f}. Not exactly 1: Muon needs only the directions, and these coefficients buy speed "
                         "on the small singular values with a wobble around 1.", n=int(steps), a=coefficients[0],
                         b=coefficients[1], c=coefficients[2], low=low, high=high))
    return hint(_("{n} step(s) with ({a:g}, {b:g}, {c:g}): singular values from {low:.3g} to {high:.3g}, not all in "
                  "0.5 … 1.5 yet.", n=int(steps), a=coefficients[0], b=coefficients[1], c=coefficients[2], low=low,
                  high=high),
                _("Each step maps a singular value σ to aσ + bσ³ + cσ⁵. The smallest ones (0.001 after "
                  "normalising) grow by about a per step: count how many steps lift them to 0.5."))
