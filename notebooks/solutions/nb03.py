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

WRONG = {
    "perplexity_from_probs": [lambda p: -torch.log(p).mean(), lambda p: 1 / p.mean(), lambda p: (1 / p).mean(),
                              lambda p: torch.exp(-torch.log(p).sum()), lambda p: torch.exp(torch.log(p).mean())],
    "add_alpha": [lambda N, a: N / N.sum(1, keepdim=True),
                  lambda N, a: (N + a) / (N.sum(1, keepdim=True) + a),
                  lambda N, a: (N + a) / (N.sum(0, keepdim=True) + a * N.shape[0]),
                  lambda N, a: N / (N.sum(1, keepdim=True) + a * N.shape[1]),
                  lambda N, a: (N + a).sum(1)],
    "make_windows": [lambda ids, T: (ids[:(len(ids) - 1) // T * T].view(-1, T),) * 2,
                     lambda ids, T: (ids[:len(ids) // T * T].view(-1, T), ids[1:len(ids) // T * T + 1]),
                     lambda ids, T: (ids[1:(len(ids) - 1) // T * T + 1].view(-1, T), ids[:(len(ids) - 1) // T * T].view(-1, T)),
                     lambda ids, T: (ids[:-1].unfold(0, T, 1), ids[1:].unfold(0, T, 1)),
                     lambda ids, T: ids[:-1].unfold(0, T, T)],
    "per_token_mean": [lambda m, n: m.mean(), lambda m, n: (m * n).sum(), lambda m, n: m.sum() / n.sum(),
                       lambda m, n: (m * n).mean()],
    "two_kinds_of_tokens": [3.2, 5.0, 1.386, 2.0, 0.25, "four"],
}
