"""Checkers for notebook 10 (from our GPT to GPT-2)."""

import functools
import math

import torch

from ...bpe import BPETokenizer
from ...bpe import bits_per_char as _bits_per_char
from ...bpe import merge as _merge
from ...bpe import pair_counts as _pair_counts
from ...data import load_corpus, split
from ...ngram import NGramLM
from ..i18n import _
from . import attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, \
    unanswered, uniform
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

OWN_BPE = ("lmutils.bpe.pair_counts", "lmutils.bpe.merge", "lmutils.bpe.BPETokenizer.train",
           "lmutils.bpe.BPETokenizer._encode_chunk")


def _ids(n, values):
    """n random ids among `values` small numbers: runs like 5, 5, 5 come up often."""
    return torch.randint(0, values, (n,), generator=rng()).tolist()


@checker
def pair_counts(fn):
    """pair_counts(ids) = a dict {(a, b): how often b follows a in ids}, every position counted, overlaps included."""
    cases = [_ids(integer(8, 30), integer(2, 5)) for _i in range(3)] + [[7] * integer(3, 7), [integer(0, 9)], []]
    for ids in cases:
        with forbid(fn, *OWN_BPE):
            got, err = attempt(fn, list(ids))
        if err is not None:
            return err
        if not isinstance(got, dict):
            return hint(_("return a dict (or a Counter) of pair → count, got {kind}.", kind=type(got).__name__))
        want = dict(_pair_counts(ids))
        try:
            got = {tuple(k): v for k, v in got.items() if v}
        except TypeError:
            return hint(_("the keys are pairs of neighbouring ids: (ids[i], ids[i + 1])."))
        if got == want:
            continue
        if any(len(k) != 2 for k in got):
            return hint(_("the keys are pairs of neighbouring ids: (ids[i], ids[i + 1])."))
        run = next(((a, b) for (a, b), n in want.items() if a == b and got.get((a, b), 0) < n), None)
        if run is not None:
            return hint(_("in {ids} the pair {pair} occurs {n} times, overlaps included; you count {got}.", ids=ids,
                          pair=run, n=want[run], got=got.get(run, 0)),
                        _("count every position i from 0 to len(ids) − 2, even where a pair overlaps the one before."))
        return hint(_("for {ids} the counts should be {want}, yours are {got}.", ids=ids, want=want, got=got),
                    _("for each position i: the pair (ids[i], ids[i + 1]), counted once more."),
                    _("for a, b in zip(ids, __): counts[(a, b)] = counts.get((a, b), 0) + __"))
    return correct(_("the most frequent of these pairs is the next merge."))


@checker
def merge(fn):
    """merge(ids, pair, new_id): every occurrence of pair replaced by new_id, scanning left to right."""
    cases = []
    for _i in range(3):
        ids = _ids(integer(6, 25), 3)
        cases.append((ids, (ids[1], ids[2]), 256 + integer(0, 100)))
    run = integer(3, 7)
    cases += [([4] * run + [1], (4, 4), 300), ([1, 2], (2, 1), 300), ([], (1, 2), 300)]
    for ids, pair, new_id in cases:
        with forbid(fn, *OWN_BPE):
            got, err = attempt(fn, list(ids), pair, new_id)
        if err is not None:
            return err
        if not isinstance(got, (list, tuple)):
            return hint(_("return a list of ids, got {kind}.", kind=type(got).__name__))
        want = _merge(ids, pair, new_id)
        if list(got) == want:
            continue
        if pair[0] == pair[1]:
            return hint(_("merge({ids}, {pair}, {new}) should give {want}, yours gives {got}: a token can belong to "
                          "one merge only.", ids=ids, pair=pair, new=new_id, want=want, got=list(got)),
                        _("after merging positions i and i + 1, continue at i + 2."))
        return hint(_("merge({ids}, {pair}, {new}) should give {want}, yours gives {got}.", ids=ids, pair=pair,
                      new=new_id, want=want, got=list(got)),
                    _("walk through ids with an index i: where (ids[i], ids[i + 1]) is the pair, write new_id and jump "
                      "two positions; elsewhere copy ids[i] and move one."),
                    _("if i + 1 < len(ids) and (ids[i], ids[__]) == __: out.append(__); i += __"))
    return correct()


@checker
def bits_per_char(fn):
    """bits_per_char(nats_per_token, n_tokens, n_chars) = nats_per_token × n_tokens / n_chars / ln 2."""
    cases = [(uniform(0.5, 6), integer(10, 5000), 0) for _i in range(3)]
    cases = [(nats, n, integer(n, 4 * n)) for nats, n, _c in cases] + [(uniform(0.5, 3), 777, 777)]
    for nats, n_tok, n_chr in cases:
        with forbid(fn, "lmutils.bpe.bits_per_char"):
            got, err = attempt(fn, nats, n_tok, n_chr)
        if err is not None:
            return err
        value = number(got)
        if value is None:
            return hint(_("return one number, got {kind}.", kind=type(got).__name__))
        want = _bits_per_char(nats, n_tok, n_chr)
        if math.isclose(value, want, rel_tol=1e-6):
            continue
        if math.isclose(value, nats * n_tok / n_chr, rel_tol=1e-6):
            return hint(_("that is nats per character: one bit is ln 2 nats."))
        if math.isclose(value, nats / math.log(2), rel_tol=1e-6) and n_tok != n_chr:
            return hint(_("that is bits per token: a token holds n_chars / n_tokens characters on average."))
        if math.isclose(value, nats * n_chr / n_tok / math.log(2), rel_tol=1e-6):
            return hint(_("upside down: the text's total is nats_per_token × n_tokens; share it among n_chars."))
        if math.isclose(value, nats * n_tok / n_chr * math.log(2), rel_tol=1e-6):
            return hint(_("to turn nats into bits divide by ln 2 (1 bit = 0.693 nats), do not multiply."))
        return hint(_("the text's total: nats per token times the number of tokens; per character; then in bits."),
                    _("for {n} tokens at {nats:.3g} nats each, the text's total is {total:.4g} nats, spread over {c} "
                      "characters; one bit is ln 2 nats.", n=n_tok, nats=nats, total=nats * n_tok, c=n_chr),
                    _("nats_per_token * __ / __ / math.log(__)"))
    return correct(_("now tokenizers with different vocabularies can be compared."))


KV_REFERENCES = ("lmutils.attention.scaled_dot_product_attention", "lmutils.kvcache.KVCache.extend",
                 "lmutils.models.CausalSelfAttention.forward", "lmutils.modern.attend")
KV_OPS = ("scaled_dot_product", "multi_head_attention")


def _cached_reference(q, k_new, v_new, k_past, v_past):
    k, v = torch.cat([k_past, k_new], 2), torch.cat([v_past, v_new], 2)
    T_new, T_past = q.size(2), k_past.size(2)
    allowed = torch.arange(k.size(2)) <= T_past + torch.arange(T_new)[:, None]   # past, and the new ones up to i
    S = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~allowed, float("-inf"))
    return S.softmax(-1) @ v, k, v


@checker
def cached_attention(fn):
    """cached_attention(q, k_new, v_new, k_past, v_past) → (out, k, v): T_new new tokens (q, k_new, v_new of shape
    (B, n_head, T_new, d)) attend to the cache (B, n_head, T_past, d) and, causally, to each other; the cache
    comes back with the new keys and values appended."""
    cases = [(integer(2, 4), integer(1, 6)), (1, integer(1, 6)), (integer(2, 4), 0)]
    for T_new, T_past in cases:
        B, h, d = integer(1, 2), integer(1, 3), integer(2, 8)
        q, k_new, v_new = (torch.randn(B, h, T_new, d, generator=rng()) for _i in range(3))
        k_past, v_past = torch.randn(B, h, T_past, d, generator=rng()), torch.randn(B, h, T_past, d, generator=rng())
        with forbid(fn, *KV_REFERENCES, ops=KV_OPS):
            got, err = attempt(fn, q.clone(), k_new.clone(), v_new.clone(), k_past.clone(), v_past.clone())
        if err is not None:
            return err
        if not isinstance(got, (tuple, list)) or len(got) != 3 or not all(torch.is_tensor(t) for t in got):
            return hint(_("return three tensors: (out, k, v), the output and the cache with the new keys and values "
                          "appended."))
        out, k, v = got
        want, k_all, v_all = _cached_reference(q, k_new, v_new, k_past, v_past)
        where = _("with {p} cached and {n} new token(s)", p=T_past, n=T_new)
        if k.shape != k_all.shape or v.shape != v_all.shape:
            return hint(_("{where} the cache grows along the time axis (dim 2) to {want}; yours is {got}.",
                          where=where, want=tuple(k_all.shape), got=tuple(k.shape)))
        if not (close(k, k_all, 1e-6) and close(v, v_all, 1e-6)):
            if close(k, torch.cat([k_new, k_past], 2), 1e-6):
                return hint(_("append the new keys after the past ones: the cache is in time order."))
            return hint(_("the new cache is the past keys followed by the new ones, along dim 2 (and the same for v)."))
        if out.shape != want.shape:
            return hint(_("the output has one row per new token: shape {want}, yours {got}.", want=tuple(want.shape),
                          got=tuple(out.shape)))
        if close(out, want, 1e-5):
            continue
        S = q @ k_all.transpose(-2, -1) / math.sqrt(d)
        if T_new > 1 and close(out, S.softmax(-1) @ v_all, 1e-5):
            return hint(_("{where}: your new tokens also see the new tokens after them. One new token needs no mask; "
                          "several do: new token i may see the past and the new tokens up to i.", where=where))
        top_left = torch.ones(T_new, T_past + T_new, dtype=torch.bool).tril()
        if T_past > 0 and close(out, S.masked_fill(~top_left, float("-inf")).softmax(-1) @ v_all, 1e-5):
            return hint(_("{where}: your new token i attends to keys 0 … i only, as is_causal=True lines the mask up "
                          "with the first key; the cache holds {p} earlier tokens, which every new token may see.",
                          where=where, p=T_past),
                        _("new token i is at position T_past + i: it may see keys 0 … T_past + i."),
                        _("allowed = torch.arange(T_past + T_new) <= __ + torch.arange(T_new)[:, None]"))
        if close(out, (q @ k_all.transpose(-2, -1)).masked_fill(
                ~(torch.arange(k_all.size(2)) <= T_past + torch.arange(T_new)[:, None]), float("-inf")).softmax(-1)
                @ v_all, 1e-5):
            return hint(_("scale the scores by 1/√d, as in notebook 06."))
        return hint(_("scores q kᵀ/√d over the whole cache, a mask for the new tokens' own future, a softmax on the "
                      "last axis, times v."))
    return correct(_("the same as attention over the whole sequence, for the new rows only: a cache can take a "
                     "whole prompt at once, then one token at a time."))


@functools.lru_cache(maxsize=1)
def _bpe_texts():
    """The experiment's texts: 300,000 characters of the training text to learn merges and count on, 50,000
    characters of the validation text to score, and the first 1,024 merges learned on the first."""
    train_text, val_text = split(load_corpus("shakespeare"))
    train_text, val_text = train_text[:300_000], val_text[:50_000]
    return train_text, val_text, BPETokenizer.train(train_text, 256 + 1024)


@functools.lru_cache(maxsize=32)
def bigram_bits(merges: int, alpha: float) -> float:
    """Bits per character of a bigram counted over the tokens of a BPE with this many merges."""
    train_text, val_text, bpe = _bpe_texts()
    tok = BPETokenizer(bpe.merges[:merges])
    train_ids, val_ids = torch.tensor(tok.encode(train_text)), torch.tensor(tok.encode(val_text))
    nll = NGramLM(tok.vocab_size, order=2, alpha=alpha).fit(train_ids).nll(val_ids)
    return _bits_per_char(nll, len(val_ids), len(val_text))


BPE_TARGET = 3.15  # bits per character; a bigram over characters: 3.74, a trigram over characters: 3.43


@checker
def bpe_bigram(settings):
    """Experiment: settings = dict(merges=..., alpha=...); a bigram model counted over the tokens of a BPE with that
    many merges must score at most BPE_TARGET bits per character on the validation text."""
    if unanswered(settings):
        return placeholder()
    if not isinstance(settings, dict) or set(settings) != {"merges", "alpha"}:
        return hint(_("give a dict with two keys: dict(merges=0, alpha=1.0), say."))
    merges, alpha = number(settings["merges"]), number(settings["alpha"])
    if merges is None or merges != int(merges) or not 0 <= merges <= 1024 or alpha is None or not alpha > 0:
        return hint(_("merges must be a whole number from 0 to 1,024, alpha a positive number."))
    bits = bigram_bits(int(merges), alpha)
    if bits <= BPE_TARGET:
        return correct(_("{m} merges, α = {a:g}: {bits:.3f} bits per character, where a bigram over characters "
                         "needs 3.74: each token carries several characters, so one token of context is more text. "
                         "With too many merges most pairs of tokens are never seen.", m=int(merges), a=alpha,
                         bits=bits))
    return hint(_("{m} merges, α = {a:g}: {bits:.3f} bits per character, not yet {target}. Try the merges a few "
                  "powers of two apart, each with several α.", m=int(merges), a=alpha, bits=bits, target=BPE_TARGET),
                _("{m} merges: {bits:.3f}. More merges make longer tokens (more context per token) but rarer pairs; "
                  "the smoothing decides how much the rare pairs cost.", m=int(merges), bits=bits))
