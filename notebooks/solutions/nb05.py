"""Solutions to notebook 05's exercises (LSTM)."""

import math

import torch


def lstm_step(x_t, h, C, W, b):
    """W = [W_f; W_i; W_C; W_o] (4·n_hidden, n_hidden + n_in) acting on [h_{t-1}, x_t]; b = [b_f; b_i; b_c; b_o]."""
    z = torch.cat([h, x_t], dim=1) @ W.T + b       # (B, 4·n_hidden): the four pre-activations side by side
    f, i, c, o = z.chunk(4, dim=1)
    C = torch.sigmoid(f) * C + torch.sigmoid(i) * torch.tanh(c)
    return torch.sigmoid(o) * torch.tanh(C), C


def forget_gate(lstm):
    n = lstm.hidden_size  # PyTorch's rows: i, f, g, o
    rows = slice(n, 2 * n)
    return lstm.weight_ih_l0[rows], lstm.weight_hh_l0[rows], lstm.bias_ih_l0[rows] + lstm.bias_hh_l0[rows]


f = 0.5 ** (1 / 100)        # f¹⁰⁰ = 1/2
b_f = math.log(f / (1 - f))  # σ(b_f) = f, so b_f ≈ 4.97


def lstm_params(n_in, n_hidden):
    return 4 * (n_hidden * n_in + n_hidden * n_hidden + 2 * n_hidden)


def _step(order="fico", hx=True, h_tanh=True, c_act=torch.tanh):
    """A wrong variant of lstm_step: the gates read from the blocks in another order, [x, h], …"""
    def step(x_t, h, C, W, b):
        z = (torch.cat([h, x_t], 1) if hx else torch.cat([x_t, h], 1)) @ W.T + b
        g = dict(zip(order, z.chunk(4, dim=1)))
        C = torch.sigmoid(g["f"]) * C + torch.sigmoid(g["i"]) * c_act(g["c"])
        return torch.sigmoid(g["o"]) * (torch.tanh(C) if h_tanh else C), C
    return step


SOLUTIONS = {
    "lstm_step": lstm_step,
    "forget_gate": forget_gate,
    "forget_bias": b_f,
    "lstm_params": lstm_params,
}

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "lstm_step": [
        (_step(order="ifco"), "swapped"),                          # f and i swapped
        (_step(order="icfo"), "wrong blocks of rows", "rows 0..n feed f"),  # PyTorch's order i, f, g, o
        (_step(hx=False), "which columns of W", "h comes first"),  # [x_t, h]
        (_step(h_tanh=False), "squashed cell state"),
        (_step(c_act=torch.sigmoid), "can be negative"),
        (lambda x_t, h, C, W, b: (h, C), "the state you were given"),
        (lambda x_t, h, C, W, b: tuple(torch.tanh(torch.cat([h, x_t], 1) @ W.T + b).chunk(4, 1)[:2]),
         "compute all four", "z.chunk(4, 1)"),
        (lambda x_t, h, C, W, b: _step()(x_t, h, C, W.T, b), "Write down the shapes"),
    ],
    "forget_gate": [
        (lambda lstm: (lstm.weight_ih_l0[:lstm.hidden_size], lstm.weight_hh_l0[:lstm.hidden_size],
                       lstm.bias_ih_l0[:lstm.hidden_size] + lstm.bias_hh_l0[:lstm.hidden_size]),  # the input gate
         "another gate", "i, f, g, o"),
        (lambda lstm: (lstm.weight_ih_l0[lstm.hidden_size:2 * lstm.hidden_size],
                       lstm.weight_hh_l0[lstm.hidden_size:2 * lstm.hidden_size],
                       lstm.bias_ih_l0[lstm.hidden_size:2 * lstm.hidden_size]), "two bias vectors"),  # one bias
        (lambda lstm: (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0), "(4, 3)"),  # not cut
        (lambda lstm: (lstm.weight_ih_l0[:4, :3] * 2, lstm.weight_hh_l0[:4] * 2, lstm.bias_ih_l0[:4]),
         "print their shapes", "rows n..2n"),
    ],
    "forget_bias": [(f, "the forget gate's value f"), (math.log(f), "a log of f", "b = log(f / (1 − f))"),
                    (0.5, "survives one step", "0.5 ** (1 / 100)"), (100.0, "survives one step")],
    "lstm_params": [
        (lambda n_in, n_hidden: n_hidden * n_in + n_hidden * n_hidden + 2 * n_hidden, "one gate's worth"),
        (lambda n_in, n_hidden: 4 * (n_hidden * n_in + n_hidden * n_hidden + n_hidden), "two bias vectors"),
        (lambda n_in, n_hidden: 4 * (n_hidden * n_in + n_hidden * n_hidden), "biases are missing"),
        (lambda n_in, n_hidden: 4 * n_hidden * n_in, "what one gate has", "4 gates ×"),
    ],
}
