"""Checkers for notebook 03 · Text to tensors, and counting models."""

import functools
import math

import torch

from ...data import encode_corpus
from ...ngram import NGramLM
from ..i18n import _
from . import attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, unanswered, uniform
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

OWN_PERPLEXITY = ("lmutils.ngram.perplexity", "lmutils.ngram.NGramLM.perplexity", "lmutils.ngram.NGramLM.nll")


@checker
def perplexity_from_probs(fn):
    """perplexity(p) where p[t] = P(the actual token t | its context), for any number of tokens."""
    cases = [0.01 + 0.99 * torch.rand(integer(5, 60), generator=rng(), dtype=torch.float64) for _i in range(3)]
    cases.append(torch.ones(integer(3, 9), dtype=torch.float64))               # a perfect model: perplexity 1
    cases.append(torch.full((integer(4, 9),), 1 / integer(2, 70), dtype=torch.float64))   # uniform over k: k
    for p in cases:
        with forbid(fn, *OWN_PERPLEXITY):
            got, err = attempt(fn, p.clone())
        if err is not None:
            return err
        value = number(got)
        if value is None:
            return hint(_("return one number (a float or a 0-d tensor), got {kind}.", kind=type(got).__name__))
        nll = -p.log().mean().item()
        if math.isclose(value, math.exp(nll), rel_tol=1e-6):
            continue
        if math.isclose(value, nll, rel_tol=1e-6, abs_tol=1e-9):
            return hint(_("that is the mean negative log-likelihood (the loss): perplexity is one step further."))
        if math.isclose(value, 1 / p.mean().item(), rel_tol=1e-6):
            return hint(_("averaging the probabilities themselves is not it: average the log-probabilities."))
        if math.isclose(value, (1 / p).mean().item(), rel_tol=1e-6):
            return hint(_("that averages per-token perplexities; average the negative log-probabilities first."))
        if math.isclose(value, math.exp(-p.log().sum().item()), rel_tol=1e-6):
            return hint(_("a sum grows with the length of the text (here {n} tokens): use the mean over tokens.",
                          n=len(p)))
        return hint(_("perplexity comes from the mean negative log-likelihood per token: how?"),
                    _("for these {n} probabilities the mean −log p is {nll:.4f}; perplexity undoes the log.", n=len(p),
                      nll=nll),
                    _("torch.exp(__(torch.log(p)).mean())"))
    return correct(_("perplexity = exp(mean −log p): 1 for a perfect model, k for a uniform guess among k tokens."))


@checker
def add_alpha(fn):
    """add_alpha(N, alpha): N an n-gram count table of any order, shape (V,) * n, N[c_1, …, c_{n−1}, w] →
    P[c_1, …, w] = (N + alpha) / (N(c) + alpha V), normalised over the last axis (the next token w)."""
    for order in (2, 3, 2):
        V = integer(3, 8)
        N = torch.randint(0, 6, (V,) * order, generator=rng()) * (torch.rand((V,) * order, generator=rng()) > 0.4)
        N[integer(0, V - 1)] = 0                  # a context never seen
        alpha = uniform(0.05, 2.0)
        with forbid(fn, "lmutils.ngram.NGramLM.probs"):
            got, err = attempt(fn, N.clone(), alpha)
        if err is not None:
            return err
        if not torch.is_tensor(got) or got.shape != N.shape:
            return hint(_("for counts of shape {shape} return probabilities of the same shape: one distribution "
                          "over the next token for each context.", shape=tuple(N.shape)))
        got = got.double()
        want = (N + alpha) / (N.sum(-1, keepdim=True) + alpha * V)
        if close(got, want, 1e-6):
            continue
        sums = got.sum(-1)
        if torch.isnan(got).any():
            return hint(_("some entries are NaN: a context with no counts at all divides 0 by 0. Smoothing fixes "
                          "that."))
        if close(got.sum(0), torch.ones_like(got.sum(0)), 1e-6) and order >= 2:
            return hint(_("your table sums to 1 over its first axis: normalise over the LAST axis, the next "
                          "token w, for each context (order {n} here, shape {shape}).", n=order,
                          shape=tuple(N.shape)))
        if not close(sums, torch.ones_like(sums), 1e-6):
            return hint(_("for each context the probabilities of the next token must sum to 1; yours sum to "
                          "between {lo:.3f} and {hi:.3f}.", lo=sums.min().item(), hi=sums.max().item()),
                        _("each distribution must sum to 1: you add alpha to V counts, so the context's total grows "
                          "by alpha·V."),
                        _("(N + alpha) / (N.sum(__, keepdim=True) + __)"))
        if (got == 0).any():
            return hint(_("some probabilities are 0: smoothing is meant to prevent exactly that. Where must alpha "
                          "go?"),
                        _("add alpha to every count N[…, w], not only to the denominator."))
        return hint(_("smoothing pretends every n-gram was seen alpha more times: what does that do to each "
                      "count, and to each context's total?"),
                    _("add alpha to every count, then divide each context's row (the last axis) by its new total."),
                    _("(N + alpha) / (N.sum(__, keepdim=True) + __)"))
    return correct(_("every distribution sums to 1, no n-gram has probability 0, and a context never seen gets the "
                     "uniform 1/V."))


@checker
def make_windows(fn):
    """make_windows(ids, T, stride) = (x, y): windows of length T starting every `stride` tokens (overlapping when
    stride < T), y shifted by one, as many as fit (the last window's targets need one more id)."""
    cases = [(integer(15, 40), integer(3, 6), 0) for _i in range(3)]
    cases = [(n, T, integer(1, T - 1)) for n, T, _s in cases[:2]] + [(cases[2][0], cases[2][1], cases[2][1])]
    cases.append((integer(20, 40), 4, integer(5, 7)))                    # stride > T: gaps between windows
    for n, T, stride in cases:
        ids = torch.randperm(1000, generator=rng())[:n]
        count = (n - 1 - T) // stride + 1
        starts = torch.arange(count) * stride
        want_x, want_y = ids[starts[:, None] + torch.arange(T)], ids[starts[:, None] + torch.arange(T) + 1]
        with forbid(fn, "lmutils.data.windows", "lmutils.mlp.context_windows", ops=("unfold",)):
            got, err = attempt(fn, ids.clone(), T, stride)
        if err is not None:
            return err
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not all(torch.is_tensor(t) for t in got):
            return hint(_("return two tensors: (x, y)."))
        x, y = got
        if x.shape == y.shape and torch.equal(x, y):
            return hint(_("y is the same as x: each target is the token *after* its input."))
        where = _("for {n} ids, T = {T} and stride {s}", n=n, T=T, s=stride)
        if x.shape != want_x.shape or y.shape != want_y.shape:
            return hint(_("{where} expect {k} windows, shape {want}; got {gx} and {gy}.", where=where, k=count,
                          want=tuple(want_x.shape), gx=tuple(x.shape), gy=tuple(y.shape)),
                        _("{where} expect {k} windows: the window starting at s needs ids s … s + T, the last one "
                          "included for its targets.", where=where, k=count),
                        _("starts = torch.arange(0, len(ids) - __, stride); positions = starts[:, None] + __"))
        if torch.equal(x, want_y) and torch.equal(y, want_x):
            return hint(_("x and y are swapped: y is x shifted one step forward in the text."))
        if not (torch.equal(x, want_x) and torch.equal(y, want_y)):
            return hint(_("{where} the shapes are right, the ids are not: print x for a small example and compare "
                          "with the text.", where=where),
                        _("window i starts at i·stride, and y holds the ids one position later than x."),
                        _("starts = torch.arange(0, len(ids) - __, stride); positions = starts[:, None] + __"))
    return correct(_("with stride 1 every position starts a window: T times the windows, each sharing most of its "
                     "text with its neighbours."))


@checker
def per_token_mean(fn):
    """per_token_mean(batch_means, batch_tokens): the mean loss per token of all batches together."""
    for _case in range(3):
        k = integer(3, 8)
        tokens = torch.full((k,), 64 * integer(2, 8))
        tokens[-1] = integer(1, 60)                                  # a short last batch
        means = 1.5 + 2 * torch.rand(k, generator=rng(), dtype=torch.float64)
        got, err = attempt(fn, means.clone(), tokens.clone())
        if err is not None:
            return err
        value = number(got)
        if value is None:
            return hint(_("return one number, got {kind}.", kind=type(got).__name__))
        want = ((means * tokens).sum() / tokens.sum()).item()
        if math.isclose(value, want, rel_tol=1e-6):
            continue
        if math.isclose(value, means.mean().item(), rel_tol=1e-6):
            return hint(_("that is the mean per batch: the last batch has {n} tokens, far fewer than the others, but "
                          "counts as much.", n=int(tokens[-1])),
                        _("that is the mean per batch: weigh each batch by its number of tokens."),
                        _("(batch_means * __).sum() / __"))
        if math.isclose(value, (means * tokens).sum().item(), rel_tol=1e-6):
            return hint(_("that is the total loss of all tokens: divide by how many tokens there are."))
        return hint(_("a mean per token is the total loss over the number of tokens: what is each batch's total?"),
                    _("turn each batch mean back into a batch total (mean × tokens), add them up, divide by all "
                      "the tokens."),
                    _("(batch_means * __).sum() / __"))
    return correct(_("the short last batch counts for its tokens, not for a share of the batches."))


@functools.cache
def _small_corpus():
    """The experiment's text: the first 50,000 characters of the training split to count on, the validation
    split cut in two halves (validation to choose on, test to report on)."""
    _tok, train_ids, val_ids = encode_corpus("shakespeare")
    half = len(val_ids) // 2
    model = NGramLM(65, order=8).fit(train_ids[:50_000])
    return model, val_ids[:half], val_ids[half:]


def ngram_loss(order: int, alpha: float, split: str) -> float:
    model, val, test = _small_corpus()
    lm = model.lower(order)
    lm.alpha = alpha
    return lm.nll(val if split == "val" else test)


@functools.cache
def _best_on_validation():
    grid = [(n, a) for n in range(1, 9) for a in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)]
    return min((ngram_loss(n, a, "val"), n, a) for n, a in grid)


@checker
def small_corpus(choice):
    """Experiment: choice = (order, alpha) for an n-gram counted on only 50,000 characters, chosen on the
    validation half of the held-out text; passes within 0.01 nats of the best choice there, and reports the
    test half."""
    if unanswered(choice):
        return placeholder()
    try:
        order, alpha = int(choice[0]), float(choice[1])
    except (TypeError, ValueError, IndexError):
        return hint(_("give two numbers, (order, alpha): e.g. (2, 1.0)."))
    if not 1 <= order <= 8 or not alpha > 0:
        return hint(_("the order must be between 1 and 8 and alpha positive; got ({order}, {alpha}).", order=order,
                      alpha=alpha))
    val, test = ngram_loss(order, alpha, "val"), ngram_loss(order, alpha, "test")
    best, n_best, a_best = _best_on_validation()
    if val <= best + 0.01:
        return correct(_("order {n}, α = {a:g}: {val:.4f} nats per character on the validation half, and {test:.4f} "
                         "on the test half, which played no part in the choice. Less text to count on: a shorter "
                         "context and more smoothing than on the whole training text.", n=order, a=alpha, val=val,
                         test=test))
    return hint(_("order {n}, α = {a:g} gives {val:.4f} nats per character on the validation half; a better "
                  "choice exists. Compare every order from 1 to 8, each with several α.", n=order, a=alpha, val=val),
                _("order {n}, α = {a:g}: {val:.4f}; the best of a grid of orders and α is {gap:.3f} nats lower. "
                  "With 50,000 characters most long contexts were never seen.", n=order, a=alpha, val=val,
                  gap=val - best))
