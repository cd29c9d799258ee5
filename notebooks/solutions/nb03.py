"""Solutions for notebook 03 · Text to tensors, and counting models (try the exercises first)."""

import torch


def perplexity_from_probs(p):
    return torch.exp(-torch.log(p).mean())


def add_alpha(N, alpha):
    V = N.shape[1]
    return (N + alpha) / (N.sum(dim=1, keepdim=True) + alpha * V)


def make_windows(ids, T):
    n = (len(ids) - 1) // T             # the last window's targets need one more id
    x = ids[:n * T].view(n, T)
    y = ids[1:n * T + 1].view(n, T)
    return x, y


def per_token_mean(batch_means, batch_tokens):
    return (batch_means * batch_tokens).sum() / batch_tokens.sum()


SOLUTIONS = {
    "perplexity_from_probs": perplexity_from_probs,
    "add_alpha": add_alpha,
    "make_windows": make_windows,
    "per_token_mean": per_token_mean,
    "two_kinds_of_tokens": 4.0,         # exp(½ ln 2 + ½ ln 8) = exp(2 ln 2)
}

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "perplexity_from_probs": [(lambda p: -torch.log(p).mean(), "negative log-likelihood"),
                              (lambda p: 1 / p.mean(), "averaging the probabilities"),
                              (lambda p: (1 / p).mean(), "per-token perplexities"),
                              (lambda p: torch.exp(-torch.log(p).sum()), "a sum grows"),
                              (lambda p: torch.exp(torch.log(p).mean()), "mean negative log-likelihood per token",
                               "torch.exp(-torch.log(p).mean())")],
    "add_alpha": [(lambda N, a: N / N.sum(1, keepdim=True), "NaN"),
                  (lambda N, a: (N + a) / (N.sum(1, keepdim=True) + a), "how much must the row total grow",
                   "alpha·V"),
                  (lambda N, a: (N + a) / (N.sum(0, keepdim=True) + a * N.shape[0]), "columns sum to 1"),
                  (lambda N, a: N / (N.sum(1, keepdim=True) + a * N.shape[1]), "must sum to 1"),
                  (lambda N, a: (N + a).sum(1), "same shape as the counts")],
    "make_windows": [(lambda ids, T: (ids[:(len(ids) - 1) // T * T].view(-1, T),) * 2, "y is the same as x"),
                     (lambda ids, T: (ids[:len(ids) // T * T].view(-1, T), ids[1:len(ids) // T * T + 1]),
                      "expect 4 windows of 4", "ids[1:n·T + 1]"),
                     (lambda ids, T: (ids[1:(len(ids) - 1) // T * T + 1].view(-1, T),
                                      ids[:(len(ids) - 1) // T * T].view(-1, T)), "swapped"),
                     (lambda ids, T: (ids[:-1].unfold(0, T, 1), ids[1:].unfold(0, T, 1)), "expect 4 windows"),
                     (lambda ids, T: ids[:-1].unfold(0, T, T), "two tensors"),
                     (lambda ids, T: (ids[:-1].unfold(0, T, 1)[:(len(ids) - 1) // T],     # overlapping, cut
                                      ids[1:].unfold(0, T, 1)[:(len(ids) - 1) // T]), "wrong ids", "starts at i·T")],
    "per_token_mean": [(lambda m, n: m.mean(), "mean per batch", "weigh each batch"),
                       (lambda m, n: (m * n).sum(), "total loss"),
                       (lambda m, n: m.sum() / n.sum(), "each batch's total", "mean × tokens"),
                       (lambda m, n: (m * n).mean(), "each batch's total")],
    "two_kinds_of_tokens": [(3.2, "1 / (mean probability)"), (5.0, "averages 2 and 8"), (1.386, "nats"),
                            (2.0, "bits"), (0.25, "what is that mean here", "2 ln 2"), ("four", "one number")],
}
