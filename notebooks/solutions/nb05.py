"""Solutions to notebook 05's exercises (LSTM)."""

import math

import torch


def lstm_step(x_t, h, C, p):
    gate = lambda g, act=torch.sigmoid: act(h @ p[f"W_h{g}"].T + x_t @ p[f"W_x{g}"].T + p[f"b_{g}"])
    f, i, C_tilde, o = gate("f"), gate("i"), gate("c", torch.tanh), gate("o")
    C = f * C + i * C_tilde
    return o * torch.tanh(C), C


def forget_gate(lstm):
    n = lstm.hidden_size  # PyTorch's rows: i, f, g, o
    rows = slice(n, 2 * n)
    return lstm.weight_ih_l0[rows], lstm.weight_hh_l0[rows], lstm.bias_ih_l0[rows] + lstm.bias_hh_l0[rows]


f = 0.5 ** (1 / 100)        # f¹⁰⁰ = 1/2
b_f = math.log(f / (1 - f))  # σ(b_f) = f, so b_f ≈ 4.97


def lstm_params(n_in, n_hidden):
    return 4 * (n_hidden * n_in + n_hidden * n_hidden + 2 * n_hidden)


def _step_swapped(x_t, h, C, p):
    gate = lambda g, act=torch.sigmoid: act(h @ p[f"W_h{g}"].T + x_t @ p[f"W_x{g}"].T + p[f"b_{g}"])
    f, i, C_tilde, o = gate("i"), gate("f"), gate("c", torch.tanh), gate("o")  # f and i swapped
    C = f * C + i * C_tilde
    return o * torch.tanh(C), C


def _step_no_tanh(x_t, h, C, p):
    gate = lambda g, act=torch.sigmoid: act(h @ p[f"W_h{g}"].T + x_t @ p[f"W_x{g}"].T + p[f"b_{g}"])
    C = gate("f") * C + gate("i") * gate("c", torch.tanh)
    return gate("o") * C, C  # h without tanh


def _step_sigmoid_candidate(x_t, h, C, p):
    gate = lambda g: torch.sigmoid(h @ p[f"W_h{g}"].T + x_t @ p[f"W_x{g}"].T + p[f"b_{g}"])
    C = gate("f") * C + gate("i") * gate("c")
    return gate("o") * torch.tanh(C), C


SOLUTIONS = {
    "lstm_step": lstm_step,
    "forget_gate": forget_gate,
    "forget_bias": b_f,
    "lstm_params": lstm_params,
}

WRONG = {
    "lstm_step": [_step_swapped, _step_no_tanh, _step_sigmoid_candidate, lambda x_t, h, C, p: (h, C)],
    "forget_gate": [
        lambda lstm: (lstm.weight_ih_l0[:lstm.hidden_size], lstm.weight_hh_l0[:lstm.hidden_size],
                      lstm.bias_ih_l0[:lstm.hidden_size] + lstm.bias_hh_l0[:lstm.hidden_size]),  # the input gate
        lambda lstm: (lstm.weight_ih_l0[lstm.hidden_size:2 * lstm.hidden_size],
                      lstm.weight_hh_l0[lstm.hidden_size:2 * lstm.hidden_size],
                      lstm.bias_ih_l0[lstm.hidden_size:2 * lstm.hidden_size]),                    # one bias
        lambda lstm: (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0),  # not cut
    ],
    "forget_bias": [f, math.log(f), 0.5, 100.0],
    "lstm_params": [
        lambda n_in, n_hidden: n_hidden * n_in + n_hidden * n_hidden + 2 * n_hidden,     # one gate
        lambda n_in, n_hidden: 4 * (n_hidden * n_in + n_hidden * n_hidden + n_hidden),   # one bias
        lambda n_in, n_hidden: 4 * (n_hidden * n_in + n_hidden * n_hidden),              # no bias
    ],
}
