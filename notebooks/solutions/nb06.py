"""Solutions to notebook 06's exercises (attention)."""

import math

import torch


def my_attention(Q, K, V, blocked):
    """blocked: True = may NOT attend (nn.MultiheadAttention's convention)."""
    S = Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))
    A = S.masked_fill(blocked, float("-inf")).softmax(dim=-1)
    return A.nan_to_num(0.0) @ V            # a query with every key blocked: 0/0 = NaN weights → zeros


def score_scale(d_k, sigma_q, sigma_k):
    return 1 / (math.sqrt(d_k) * sigma_q * sigma_k)    # Var(q·k) = d_k σ_q² σ_k²


def split_qkv(qkv, n_head):
    B, T, three_C = qkv.shape
    C = three_C // 3
    q, k, v = qkv.split(C, dim=-1)                      # all of q, then all of k, then all of v
    return tuple(t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))


def positional_encoding(T, d_model, base):
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    angle = pos / base ** (torch.arange(0, d_model, 2) / d_model)   # one frequency per pair of columns
    pe = torch.zeros(T, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


# found by trying positions="none" (about 40 %: it cannot tell which token came when), then "sinusoidal"
word_order = dict(positions="sinusoidal", learning_rate=1e-2)

SOLUTIONS = {
    "attention": my_attention,
    "score_scale": score_scale,
    "split_qkv": split_qkv,
    "positional_encoding": positional_encoding,
    "word_order": word_order,
}


def _attention(convention="blocked", zero_rows=True, scale=True):
    """A wrong variant of my_attention."""
    def attention(Q, K, V, blocked):
        S = Q @ K.transpose(-2, -1) / (math.sqrt(Q.size(-1)) if scale else 1.0)
        A = S.masked_fill(blocked if convention == "blocked" else ~blocked, float("-inf")).softmax(-1)
        return (A.nan_to_num(0.0) if zero_rows else A) @ V
    return attention


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "attention": [(_attention(zero_rows=False), "NaN"), (_attention(convention="allowed"), "exactly where"),
                  (_attention(scale=False), "one more operation"),
                  (lambda Q, K, V, b: (Q @ K.transpose(-2, -1)).softmax(-1), "attention weights"),
                  (lambda Q, K, V, b: (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).softmax(-1) @ V,
                   "apply the mask", ".masked_fill(__, float(\"-inf\"))"),
                  (lambda Q, K, V, b: Q @ K.transpose(0, 1), "your function raised")],
    "score_scale": [(lambda d, sq, sk: 1 / math.sqrt(d), "1/√d_k"), (lambda d, sq, sk: 1 / d, "not 1"),
                    (lambda d, sq, sk: 1 / (d * sq * sk), "not 1", "s = 1 / (math.sqrt(__) * __ * __)"),
                    (lambda d, sq, sk: math.sqrt(d) * sq * sk, "not 1")],
    "split_qkv": [(lambda qkv, h: tuple(qkv.view(qkv.shape[0], qkv.shape[1], h, 3, -1).permute(3, 0, 2, 1, 4)),
                   "side by side"),
                  (lambda qkv, h: tuple(reversed(split_qkv(qkv, h))), "another order"),
                  (lambda qkv, h: tuple(t.reshape(qkv.shape[0], h, qkv.shape[1], -1)
                                        for t in qkv.split(qkv.shape[-1] // 3, -1)), "wrong content",
                   "qkv.split(__, dim=-1)"),
                  (lambda qkv, h: qkv.split(qkv.shape[-1] // 3, -1), "shape (B, n_head, T, d_k)"),
                  (lambda qkv, h: split_qkv(qkv, h)[:2], "three tensors")],
    "positional_encoding": [
        (lambda T, d, base: positional_encoding(T, d, base)[:, [i ^ 1 for i in range(d)]], "swapped"),
        (lambda T, d, base: positional_encoding(T, d, 10000.0), "base 10000"),
        (lambda T, d, base: torch.stack([torch.sin(torch.arange(T) / base ** (j / d)) if j % 2 == 0 else
                                         torch.cos(torch.arange(T) / base ** (j / d)) for j in range(d)], 1),
         "the exponent"),
        (lambda T, d, base: torch.zeros(T, d), "column by column", "pe[:, 0::2] = __")],
    "word_order": [(dict(positions="none", learning_rate=1e-2), "without positions"),
                   (dict(positions="learned", learning_rate=1e-5), "not 95%"),
                   (dict(positions="rotary", learning_rate=1e-2), "must be one of"),
                   ("sinusoidal", "two keys")],
}
