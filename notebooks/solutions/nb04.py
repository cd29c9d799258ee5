"""Solutions to notebook 04's exercises (recurrent networks)."""

import torch


def my_rnn_step(x_t, h_prev, W, b_h):
    """W = [W_hh | W_xh] acting on the concatenation [h_{t-1}, x_t]."""
    return torch.tanh(torch.cat([h_prev, x_t], dim=1) @ W.T + b_h)


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

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "rnn_step": [
        (lambda x_t, h_prev, W, b_h: torch.cat([h_prev, x_t], 1) @ W.T + b_h, "nonlinearity"),             # no tanh
        (lambda x_t, h_prev, W, b_h: torch.sigmoid(torch.cat([h_prev, x_t], 1) @ W.T + b_h), "(-1, 1)"),   # sigmoid
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 1) @ W.T), "bias b_h is missing"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([x_t, h_prev], 1) @ W.T + b_h),                 # [x, h]
         "which columns of W", "h_prev, x_t] in that order"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 1) @ W + b_h),                   # no .T
         "Write down the shapes", "multiply by W transposed"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 0) @ W.T + b_h), "Write down the shapes"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(h_prev @ W[:, :4].T + b_h), "shape of each piece",        # no x_t
         "torch.cat([h_prev, x_t], dim=1)"),
    ],
    "grad_to_previous": [
        (lambda g, h_t, W_hh: (g * (1 - h_t ** 2)) @ W_hh.T, "check the transpose", "not W_hh.T"),
        (lambda g, h_t, W_hh: g @ W_hh, "through the tanh"),                  # skipped tanh'
        (lambda g, h_t, W_hh: (g * (1 - h_t)) @ W_hh, "not the derivative of tanh", "1 − h_t²"),
        (lambda g, h_t, W_hh: g * (1 - h_t ** 2), "two steps back", "(g * (1 - h_t ** 2)) @ W_hh"),
    ],
    "rnn_lm_params": [
        (lambda V, E, H: V * E + H * E + H * H + H + H * V + V, "two bias vectors"),  # one RNN bias only
        (lambda V, E, H: H * E + H * H + 2 * H + H * V + V, "embedding table"),       # no embedding
        (lambda V, E, H: V * E + H * E + H * H + 2 * H + H * V, "output layer has a bias"),
        (lambda V, E, H: H * H, "list its layers", "embedding V·E"),
    ],
    "clip": [
        (lambda grads, max_norm: [g * min(1.0, max_norm / g.norm().item()) for g in grads], "on its own"),
        (lambda grads, max_norm: [g * max_norm / torch.sqrt(sum((h ** 2).sum() for h in grads)) for g in grads],
         "must stay as they are"),
        (lambda grads, max_norm: [g.mul_(min(1.0, max_norm / torch.sqrt(sum((h ** 2).sum() for h in grads)).item()))
                                  for g in grads], "changed the gradients"),  # in place (the norm changes too)
        (lambda grads, max_norm: grads, "which norm", "min(1, max_norm / norm)"),
    ],
}
