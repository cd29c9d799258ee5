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

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "attention": [
        (lambda Q, K, V: (Q @ K.transpose(-2, -1)).softmax(-1) @ V, "one more operation",           # no scaling
         "divided by √d_k"),
        (lambda Q, K, V: (Q @ K.transpose(-2, -1) / Q.size(-1)).softmax(-1) @ V, "not by d_k"),    # divides by d_k
        (lambda Q, K, V: (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).softmax(-2) @ V, "wrong axis"),
        (lambda Q, K, V: (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).softmax(-1), "attention weights"),
        (lambda Q, K, V: Q @ K.transpose(0, 1), "your function raised"),                          # wrong dims
        (lambda Q, K, V: (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).sigmoid() @ V, "inside out",
         ".softmax(dim=-1) @ V"),
    ],
    "score_std": [
        (lambda d_k, sigma: sigma, "what is its variance", "σ⁴"),
        (lambda d_k, sigma: math.sqrt(d_k) * sigma ** 2, "what does the scaling do"),
        (lambda d_k, sigma: sigma ** 4, "is a variance"),
        (lambda d_k, sigma: 1.0, "variance of one term", "the std is σ²"),
    ],
    "causal_mask": [
        (lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(), "opposite convention"),    # True = blocked
        (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "upper triangle"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "keep the diagonal"),
        (lambda T: torch.ones(T, T).tril(), "boolean"),                                   # float, not bool
        (lambda T: torch.ones(T, T, dtype=torch.bool), "on paper", ".tril()"),
    ],
    "split_heads": [
        (lambda x, n_head: x.view(x.size(0), n_head, x.size(1), x.size(2) // n_head), "mixes up tokens"),
        (lambda x, n_head: x.view(x.size(0), x.size(1), n_head, x.size(2) // n_head), "(2, 4, 3, 3)"),
        (lambda x, n_head: x.view(x.size(0), x.size(1), x.size(2) // n_head, n_head).permute(0, 3, 1, 2),
         "print a small example", ".transpose(1, 2)"),
    ],
    "positional_encoding": [
        (lambda T, d: positional_encoding(T, d)[:, [i ^ 1 for i in range(d)]], "swapped"),  # sin and cos swapped
        (lambda T, d: torch.stack([torch.sin(torch.arange(T) / 10000 ** (j / d)) if j % 2 == 0 else
                                   torch.cos(torch.arange(T) / 10000 ** (j / d)) for j in range(d)], 1),
         "the exponent"),                                                                   # j/d instead of 2i/d
        (lambda T, d: torch.zeros(T, d), "column by column", "sin(angle)"),
    ],
}
