"""Solutions for notebook 03 · Text to tensors, and counting models (try the exercises first)."""

import torch


def perplexity_from_probs(p):
    return torch.exp(-torch.log(p).mean())


def add_alpha(N, alpha):
    V = N.shape[-1]                                   # the next token is the last axis, whatever the order
    return (N + alpha) / (N.sum(dim=-1, keepdim=True) + alpha * V)


def make_windows(ids, T, stride):
    starts = torch.arange(0, len(ids) - T, stride)    # the last window's targets need one more id
    positions = starts[:, None] + torch.arange(T)     # (n, T): the ids of each window
    return ids[positions], ids[positions + 1]


def per_token_mean(batch_means, batch_tokens):
    return (batch_means * batch_tokens).sum() / batch_tokens.sum()


# found with the loop in the exercise: every order 1..8 × α in 0.001 … 3 on the validation half
small_corpus = (3, 0.1)

SOLUTIONS = {
    "perplexity_from_probs": perplexity_from_probs,
    "add_alpha": add_alpha,
    "make_windows": make_windows,
    "per_token_mean": per_token_mean,
    "small_corpus": small_corpus,
}


def _windows_of_c29(ids, T, stride):   # the cell above's by-hand windows: non-overlapping, whatever the stride
    starts = torch.arange(0, len(ids) - T, T)
    return torch.stack([ids[s:s + T] for s in starts]), torch.stack([ids[s + 1:s + T + 1] for s in starts])


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "perplexity_from_probs": [(lambda p: -torch.log(p).mean(), "negative log-likelihood"),
                              (lambda p: 1 / p.mean(), "averaging the probabilities"),
                              (lambda p: (1 / p).mean(), "per-token perplexities"),
                              (lambda p: torch.exp(-torch.log(p).sum()), "a sum grows"),
                              (lambda p: torch.exp(torch.log(p).mean()), "mean negative log-likelihood per token",
                               "torch.exp(__(torch.log(p)).mean())")],
    "add_alpha": [(lambda N, a: N / N.sum(-1, keepdim=True), "NaN"),
                  (lambda N, a: (N + a) / (N.sum(-1, keepdim=True) + a), "must sum to 1",
                   "(N + alpha) / (N.sum(__, keepdim=True) + __)"),
                  (lambda N, a: (N + a) / (N.sum(0, keepdim=True) + a * N.shape[0]), "LAST axis"),
                  (lambda N, a: (N.double() + a) / (N.sum(1, keepdim=True) + a * N.shape[1]), "must sum to 1"),  # c42
                  (lambda N, a: (N + a).sum(-1), "same shape")],
    "make_windows": [(lambda ids, T, s: (make_windows(ids, T, s)[0],) * 2, "y is the same"),
                     (_windows_of_c29, "expect", "starts = torch.arange(0, len(ids) - __, stride)"),
                     (lambda ids, T, s: tuple(reversed(make_windows(ids, T, s))), "swapped"),
                     (lambda ids, T, s: make_windows(ids, T, s)[0], "two tensors"),
                     (lambda ids, T, s: (make_windows(ids, T, s)[0].flip(1), make_windows(ids, T, s)[1].flip(1)),
                      "the ids are not", "starts = torch.arange(0, len(ids) - __, stride)")],
    "per_token_mean": [(lambda m, n: m.mean(), "mean per batch", "(batch_means * __).sum() / __"),
                       (lambda m, n: (m * n).sum(), "total loss"),
                       (lambda m, n: m.sum() / n.sum(), "each batch's total", "(batch_means * __).sum() / __"),
                       (lambda m, n: (m * n).mean(), "each batch's total")],
    "small_corpus": [((5, 0.03), "a better choice exists"), ((8, 0.001), "a better choice exists"),
                     ((3, 0.0), "alpha positive"), ("trigram", "two numbers")],
}
