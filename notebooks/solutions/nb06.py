"""Solutions to notebook 06's exercises (attention)."""

import math

import torch


def my_attention(Q, K, V):
    return (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).softmax(dim=-1) @ V


def score_std(d_k, sigma):
    return sigma ** 2  # Var(q·k) = d_k σ⁴, so std(q·k / √d_k) = σ²


def my_causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def split_heads(x, n_head):
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def positional_encoding(T, d_model):
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(T, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


SOLUTIONS = {
    "attention": my_attention,
    "score_std": score_std,
    "causal_mask": my_causal_mask,
    "split_heads": split_heads,
    "positional_encoding": positional_encoding,
}

WRONG = {
    "attention": [
        lambda Q, K, V: (Q @ K.transpose(-2, -1)).softmax(-1) @ V,                      # no scaling
        lambda Q, K, V: (Q @ K.transpose(-2, -1) / Q.size(-1)).softmax(-1) @ V,         # divides by d_k
        lambda Q, K, V: (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).softmax(-2) @ V,  # wrong axis
        lambda Q, K, V: (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).softmax(-1),   # the weights, not A V
        lambda Q, K, V: Q @ K.transpose(0, 1),                                          # raises: wrong dims
    ],
    "score_std": [
        lambda d_k, sigma: sigma,
        lambda d_k, sigma: math.sqrt(d_k) * sigma ** 2,
        lambda d_k, sigma: sigma ** 4,
        lambda d_k, sigma: 1.0,
    ],
    "causal_mask": [
        lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(),    # True = blocked
        lambda T: torch.ones(T, T, dtype=torch.bool).triu(),     # upper triangle
        lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1),   # no diagonal
        lambda T: torch.ones(T, T).tril(),                       # float, not bool
    ],
    "split_heads": [
        lambda x, n_head: x.view(x.size(0), n_head, x.size(1), x.size(2) // n_head),  # right shape, wrong content
        lambda x, n_head: x.view(x.size(0), x.size(1), n_head, x.size(2) // n_head),  # forgot the transpose
    ],
    "positional_encoding": [
        lambda T, d: positional_encoding(T, d)[:, [i ^ 1 for i in range(d)]],         # sin and cos swapped
        lambda T, d: torch.stack([torch.sin(torch.arange(T) / 10000 ** (j / d)) if j % 2 == 0 else
                                  torch.cos(torch.arange(T) / 10000 ** (j / d)) for j in range(d)], 1),  # j/d
        lambda T, d: torch.zeros(T, d),
    ],
}
