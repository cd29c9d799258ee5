"""Checkers for notebook 10 (from our GPT to GPT-2)."""

import math
from collections import Counter

import torch
import torch.nn.functional as F

from . import attempt, checker, close, correct, forbid, hint
from ...bpe import bits_per_char as _bits_per_char
from ...bpe import merge as _merge
from ...bpe import pair_counts as _pair_counts

OWN_BPE = ("lmutils.bpe.pair_counts", "lmutils.bpe.merge", "lmutils.bpe.BPETokenizer.train")


@checker
def pair_counts(fn):
    """pair_counts(ids) = a dict {(a, b): how often b follows a in ids}, overlaps counted."""
    for ids in ([1, 2, 3, 1, 2], [5, 5, 5, 5, 7], [4], list(b"to be or not to be")):
        with forbid(fn, *OWN_BPE):
            got, err = attempt(fn, list(ids))
        if err is not None:
            return err
        if not isinstance(got, dict):
            return hint(f"return a dict (or a Counter) of pair → count, got {type(got).__name__}.")
        want = dict(_pair_counts(ids))
        got = {tuple(k): v for k, v in got.items() if v}
        if got == want:
            continue
        if ids == [5, 5, 5, 5, 7] and got.get((5, 5)) in (1, 2):
            return hint("in [5, 5, 5, 5, 7] the pair (5, 5) starts at positions 0, 1 and 2: count every position.")
        if any(len(k) != 2 for k in got):
            return hint("the keys are pairs of neighbouring ids: (ids[i], ids[i + 1]).")
        return hint(f"for {ids} the counts should be {want}, yours are {got}.",
                    "for i in range(len(ids) - 1): counts[(ids[i], ids[i + 1])] += 1  (or zip(ids, ids[1:])).")
    return correct("the most frequent of these pairs is the next merge.")


@checker
def merge(fn):
    """merge(ids, pair, new_id): every occurrence of pair replaced by new_id, left to right."""
    cases = [([1, 2, 3, 1, 2], (1, 2), 9), ([5, 5, 5, 7], (5, 5), 9), ([5, 5, 5, 5], (5, 5), 9),
             ([1, 2], (2, 1), 9), ([], (1, 2), 9), ([3, 1, 2, 1, 2, 2], (1, 2), 256)]
    for ids, pair, new_id in cases:
        with forbid(fn, *OWN_BPE):
            got, err = attempt(fn, list(ids), pair, new_id)
        if err is not None:
            return err
        if not isinstance(got, (list, tuple)):
            return hint(f"return a list of ids, got {type(got).__name__}.")
        want = _merge(ids, pair, new_id)
        if list(got) == want:
            continue
        if ids == [5, 5, 5, 7] and list(got) == [5, 9, 7]:
            return hint("merge left to right: in [5, 5, 5, 7] the first two 5s merge, then the third has no partner.")
        if ids == [5, 5, 5, 7] and list(got) == [9, 9, 7]:
            return hint("a token can belong to one merge only: after merging positions 0 and 1, jump to position 2.")
        return hint(f"merge({ids}, {pair}, {new_id}) should give {want}, yours gives {list(got)}.",
                    "walk with an index i: if (ids[i], ids[i+1]) == pair append new_id and i += 2, else append ids[i] "
                    "and i += 1.")
    return correct()


@checker
def bits_per_char(fn):
    """bits_per_char(nats_per_token, n_tokens, n_chars) = nats_per_token × n_tokens / n_chars / ln 2."""
    for args in [(2.0, 500, 1000), (1.2, 1000, 1000), (3.3, 321, 1234)]:
        with forbid(fn, "lmutils.bpe.bits_per_char"):
            got, err = attempt(fn, *args)
        if err is not None:
            return err
        try:
            value = float(got)
        except (TypeError, ValueError):
            return hint(f"return one number, got {type(got).__name__}.")
        nats, n_tok, n_chr = args
        want = _bits_per_char(*args)
        if math.isclose(value, want, rel_tol=1e-6):
            continue
        if math.isclose(value, nats * n_tok / n_chr, rel_tol=1e-6):
            return hint("that is nats per character: one bit is ln 2 nats.")
        if math.isclose(value, nats / math.log(2), rel_tol=1e-6) and n_tok != n_chr:
            return hint("that is bits per token: a token holds n_chars / n_tokens characters on average.")
        if math.isclose(value, nats * n_chr / n_tok / math.log(2), rel_tol=1e-6):
            return hint("upside down: the text's total is nats_per_token × n_tokens; share it among n_chars.")
        if math.isclose(value, nats * n_tok / n_chr * math.log(2), rel_tol=1e-6):
            return hint("to turn nats into bits divide by ln 2 (1 bit = 0.693 nats), do not multiply.")
        return hint("total nats of the text = nats_per_token × n_tokens; per character; then in bits.",
                    "nats_per_token * n_tokens / n_chars / math.log(2)")
    return correct("now tokenizers with different vocabularies can be compared.")


@checker
def cached_attention(fn):
    """cached_attention(q, k_new, v_new, k_past, v_past) → (out, k, v): one new token attends to past + itself."""
    g = torch.Generator().manual_seed(10)
    q, k_new, v_new = (torch.randn(2, 3, 1, 8, generator=g) for _ in range(3))
    k_past, v_past = torch.randn(2, 3, 6, 8, generator=g), torch.randn(2, 3, 6, 8, generator=g)
    with forbid(fn, "torch.nn.functional.scaled_dot_product_attention", "lmutils.modern.attend",
                "torch.nn.functional.multi_head_attention_forward"):
        got, err = attempt(fn, q.clone(), k_new.clone(), v_new.clone(), k_past.clone(), v_past.clone())
    if err is not None:
        return err
    if not isinstance(got, (tuple, list)) or len(got) != 3 or not all(torch.is_tensor(t) for t in got):
        return hint("return three tensors: (out, k, v), the output and the cache with the new key and value appended.")
    out, k, v = got
    k_all, v_all = torch.cat([k_past, k_new], 2), torch.cat([v_past, v_new], 2)
    if k.shape != k_all.shape or v.shape != v_all.shape:
        return hint(f"the cache grows along the time axis (dim 2): (2, 3, 6, 8) + (2, 3, 1, 8) → (2, 3, 7, 8); "
                    f"yours is {tuple(k.shape)}.")
    if not (close(k, k_all, 1e-6) and close(v, v_all, 1e-6)):
        if close(k, torch.cat([k_new, k_past], 2), 1e-6):
            return hint("append the new key after the past ones: the cache is in time order.")
        return hint("the new cache is torch.cat([k_past, k_new], dim=2) (and the same for v).")
    want = F.scaled_dot_product_attention(q, k_all, v_all)
    if out.shape != want.shape:
        return hint(f"the output has one row per query: shape {tuple(want.shape)}, yours {tuple(out.shape)}.")
    if close(out, want, 1e-5):
        return correct("one new query against all cached keys: no mask needed, the future is not computed yet.")
    if close(out, F.scaled_dot_product_attention(q, k_new, v_new), 1e-5):
        return hint("the new token must see the past too: attend over the whole cache, not only k_new.")
    if close(out, F.scaled_dot_product_attention(q, k_all, v_all, scale=1.0), 1e-5):
        return hint("scale the scores by 1/√d_k, as in notebook 06.")
    if close(out, F.scaled_dot_product_attention(q, k_past, v_past), 1e-5):
        return hint("the new token also attends to itself: append k_new and v_new before attending.")
    return hint("scores = q @ kᵀ / √d_k over the whole cache, softmax on the last axis, times v.")
