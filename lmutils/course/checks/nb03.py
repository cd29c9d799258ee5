"""Checkers for notebook 03 · Text to tensors, and counting models."""

import math

import torch

from ...data import windows
from . import attempt, checker, close, correct, forbid, hint, placeholder, unanswered


def _scalar(x):
    try:
        value = float(x.item() if torch.is_tensor(x) else x)
    except (TypeError, ValueError, RuntimeError):
        return None
    return value


@checker
def perplexity_from_probs(fn):
    """perplexity(p) where p[t] = P(the actual token t | its context)."""
    p = torch.tensor([0.5, 0.1, 0.9, 0.02, 0.3, 0.6], dtype=torch.float64)
    with forbid(fn, "lmutils.ngram.perplexity"):
        got, err = attempt(fn, p.clone())
    if err is not None:
        return err
    value = _scalar(got)
    if value is None:
        return hint(f"return one number (a float or a 0-d tensor), got {type(got).__name__}.")
    nll = -p.log().mean().item()
    if math.isclose(value, math.exp(nll), rel_tol=1e-6):
        return correct("perplexity = exp(mean −log p): the inverse of the geometric mean of the probabilities.")
    if math.isclose(value, nll, rel_tol=1e-6):
        return hint("that is the mean negative log-likelihood (the loss): perplexity is one step further.")
    if math.isclose(value, 1 / p.mean().item(), rel_tol=1e-6):
        return hint("averaging the probabilities themselves is not it: average the log-probabilities.")
    if math.isclose(value, (1 / p).mean().item(), rel_tol=1e-6):
        return hint("that averages per-token perplexities; average the negative log-probabilities first.")
    if math.isclose(value, math.exp(-p.log().sum().item()), rel_tol=1e-6):
        return hint("a sum grows with the length of the text: use the mean over tokens.")
    return hint("perplexity comes from the mean negative log-likelihood per token: how?",
                "compute the negative log of each probability, average over the tokens, then undo the log.",
                "perplexity = exp(mean(−log p)): torch.exp(-torch.log(p).mean()).")


@checker
def add_alpha(fn):
    """add_alpha(N, alpha): N[c, w] bigram counts → P[c, w] = (N[c, w] + alpha) / (N[c] + alpha V)."""
    g = torch.Generator().manual_seed(3)
    N = torch.randint(0, 6, (5, 5), generator=g) * (torch.rand(5, 5, generator=g) > 0.4)
    N[2] = 0  # a context never seen
    alpha = 0.5
    got, err = attempt(fn, N.clone(), alpha)
    if err is not None:
        return err
    if not torch.is_tensor(got) or got.shape != N.shape:
        return hint(f"return a tensor of the same shape as the counts, {tuple(N.shape)}: one row per context.")
    got = got.double()
    want = (N + alpha) / (N.sum(1, keepdim=True) + alpha * N.shape[1])
    if close(got, want, 1e-6):
        return correct("every row sums to 1, and no pair has probability 0.")
    if torch.isnan(got).any():
        return hint("some entries are NaN: a row with no counts at all divides 0 by 0. Smoothing fixes that.")
    if close(got.sum(0), torch.ones(5), 1e-6):
        return hint("your columns sum to 1: normalise each row (a context c) over the next tokens w.")
    if not close(got.sum(1), torch.ones(5), 1e-6):
        return hint("each row must sum to 1: you added alpha to V counts, so how much must the row total grow?",
                    "each row must sum to 1: the denominator must grow by alpha for each of the V next tokens.",
                    "P[c, w] = (N[c, w] + alpha) / (N[c].sum() + alpha·V): keepdim=True keeps the row sums a column.")
    if close(got, N / N.sum(1, keepdim=True).clamp(min=1), 1e-6) or (got == 0).any():
        return hint("some probabilities are 0: smoothing is meant to prevent exactly that. Where must alpha go?",
                    "some probabilities are 0: add alpha to every count, not only to the denominator.")
    return hint("smoothing pretends every pair was seen alpha more times: what does that do to each count, "
                "and to each row's total?",
                "add alpha to every count N[c, w], then divide each row by its new total.",
                "(N + alpha) / (N.sum(1, keepdim=True) + alpha * V).")


@checker
def make_windows(fn):
    """make_windows(ids, T) = (x, y), non-overlapping windows of length T with y shifted by one."""
    for n, T in ((17, 4), (23, 5), (16, 4)):
        ids = torch.arange(100, 100 + n)
        want_x, want_y = windows(ids, T)
        with forbid(fn, "lmutils.data.windows"):
            got, err = attempt(fn, ids.clone(), T)
        if err is not None:
            return err
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not all(torch.is_tensor(t) for t in got):
            return hint("return two tensors: (x, y).")
        x, y = got
        if x.shape == y.shape and x.dim() == 2 and x.shape[1] == T and torch.equal(x, y):
            return hint("y is the same as x: each target is the token *after* its input.")
        if x.shape != want_x.shape or y.shape != want_y.shape:
            return hint(f"for {n} ids and T = {T} expect {want_x.shape[0]} windows of {T}, shape "
                        f"{tuple(want_x.shape)}; got {tuple(x.shape)} and {tuple(y.shape)}.",
                        f"for {n} ids and T = {T} expect shape {tuple(want_x.shape)}; got {tuple(x.shape)} and "
                        f"{tuple(y.shape)}. The last window's targets need one id after it.",
                        "n = (len(ids) − 1) // T windows: x = ids[:n·T].view(n, T), y = ids[1:n·T + 1].view(n, T).")
        if torch.equal(x, want_y) and torch.equal(y, want_x):
            return hint("x and y are swapped: y is x shifted one step forward in the text.")
        if not (torch.equal(x, want_x) and torch.equal(y, want_y)):
            return hint("right shapes, wrong ids: print x and y for a small example and compare with the text.",
                        "window i starts at i·T, and y holds the ids one position later than x.")
    return correct("the same as lmutils.data.windows(ids, T).")


@checker
def per_token_mean(fn):
    """per_token_mean(batch_means, batch_tokens): the mean loss per token of all batches together."""
    means = torch.tensor([2.1, 2.6, 1.9, 3.4], dtype=torch.float64)
    tokens = torch.tensor([512, 512, 512, 37])
    got, err = attempt(fn, means.clone(), tokens.clone())
    if err is not None:
        return err
    value = _scalar(got)
    if value is None:
        return hint(f"return one number, got {type(got).__name__}.")
    want = ((means * tokens).sum() / tokens.sum()).item()
    if math.isclose(value, want, rel_tol=1e-6):
        return correct("the short last batch counts for its 37 tokens, not for a quarter of the result.")
    if math.isclose(value, means.mean().item(), rel_tol=1e-6):
        return hint("that is the mean per batch: the last batch has far fewer tokens but counts as much as the "
                    "others.", "that is the mean per batch: weigh each batch by its tokens.")
    if math.isclose(value, (means * tokens).sum().item(), rel_tol=1e-6):
        return hint("that is the total loss of all tokens: divide by how many tokens there are.")
    return hint("a mean per token is the total loss over the number of tokens: what is each batch's total?",
                "turn each batch mean back into a batch total (mean × tokens), add them up, divide by all tokens.")


@checker
def two_kinds_of_tokens(answer):
    """Perplexity when the model gives the actual token probability 1/2 half the time and 1/8 otherwise."""
    if unanswered(answer):
        return placeholder()
    value = _scalar(answer)
    if value is None:
        return hint(f"give one number, got {type(answer).__name__}.")
    if math.isclose(value, 4.0, rel_tol=1e-3):
        return correct("exp(½·ln 2 + ½·ln 8) = exp(2 ln 2) = 4: as unsure as a fair choice among 4 tokens.")
    if math.isclose(value, 3.2, rel_tol=1e-3):
        return hint("that is 1 / (mean probability): the mean of the probabilities is not what perplexity uses.")
    if math.isclose(value, 5.0, rel_tol=1e-3):
        return hint("that averages 2 and 8: perplexity averages the *log*-probabilities, then undoes the log.")
    if math.isclose(value, 2 * math.log(2), rel_tol=1e-3):
        return hint("that is the mean negative log-likelihood in nats: one step more.")
    if math.isclose(value, 2.0, rel_tol=1e-3):
        return hint("2 bits per token is the loss in bits; the perplexity is 2 to that power.")
    return hint("perplexity = exp(mean negative log-likelihood per token): what is that mean here?",
                "the mean negative log-likelihood is ½·(−ln ½) + ½·(−ln ⅛); perplexity = exp of that.",
                "½·(−ln ½) + ½·(−ln ⅛) = ½·ln 2 + ½·3 ln 2 = 2 ln 2; now take exp.")
