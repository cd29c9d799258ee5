"""Solutions to notebook 04's exercises (recurrent networks)."""

import torch


def my_rnn_step(x_t, h_prev, W_xh, W_hh, b_h):
    return torch.tanh(h_prev @ W_hh.T + x_t @ W_xh.T + b_h)


def grad_to_previous(g, h_t, W_hh):
    return (g * (1 - h_t ** 2)) @ W_hh  # back through tanh, then through h_{t-1} @ W_hh.T


def rnn_lm_params(vocab_size, n_embd, n_hidden):
    embedding = vocab_size * n_embd
    rnn = n_hidden * n_embd + n_hidden * n_hidden + 2 * n_hidden  # W_xh, W_hh, bias_ih and bias_hh
    head = n_hidden * vocab_size + vocab_size
    return embedding + rnn + head


def clip(grads, max_norm):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / norm.item())
    return [g * scale for g in grads]


SOLUTIONS = {
    "rnn_step": my_rnn_step,
    "grad_to_previous": grad_to_previous,
    "rnn_lm_params": rnn_lm_params,
    "clip": clip,
}

WRONG = {
    "rnn_step": [
        lambda x_t, h_prev, W_xh, W_hh, b_h: h_prev @ W_hh.T + x_t @ W_xh.T + b_h,                  # no tanh
        lambda x_t, h_prev, W_xh, W_hh, b_h: torch.sigmoid(h_prev @ W_hh.T + x_t @ W_xh.T + b_h),   # sigmoid
        lambda x_t, h_prev, W_xh, W_hh, b_h: torch.tanh(h_prev @ W_hh + x_t @ W_xh.T + b_h),        # W_hh not transposed
        lambda x_t, h_prev, W_xh, W_hh, b_h: torch.tanh(h_prev @ W_hh.T + x_t @ W_xh + b_h),        # shape error
        lambda x_t, h_prev, W_xh, W_hh, b_h: torch.tanh(x_t @ W_xh.T + b_h),                        # no memory
        lambda x_t, h_prev, W_xh, W_hh, b_h: torch.tanh(h_prev @ W_hh.T + x_t @ W_xh.T),            # no bias
    ],
    "grad_to_previous": [
        lambda g, h_t, W_hh: (g * (1 - h_t ** 2)) @ W_hh.T,    # wrong transpose
        lambda g, h_t, W_hh: g @ W_hh,                          # skipped tanh'
        lambda g, h_t, W_hh: (g * (1 - h_t)) @ W_hh,            # wrong derivative
        lambda g, h_t, W_hh: g * (1 - h_t ** 2),                # stopped before W_hh
    ],
    "rnn_lm_params": [
        lambda V, E, H: V * E + H * E + H * H + H + H * V + V,  # one RNN bias only
        lambda V, E, H: H * E + H * H + 2 * H + H * V + V,      # no embedding
        lambda V, E, H: V * E + H * E + H * H + 2 * H + H * V,  # no output bias
        lambda V, E, H: H * H,
    ],
    "clip": [
        lambda grads, max_norm: [g * min(1.0, max_norm / g.norm().item()) for g in grads],   # per tensor
        lambda grads, max_norm: [g * max_norm / torch.sqrt(sum((h ** 2).sum() for h in grads)) for g in grads],
        lambda grads, max_norm: [g.mul_(min(1.0, max_norm / torch.sqrt(sum((h ** 2).sum() for h in grads)).item()))
                                 for g in grads],  # in place (and the norm changes under its feet)
        lambda grads, max_norm: grads,
    ],
}
