"""Solutions to notebook 05's exercises (LSTM)."""

import math

import torch


def gru_step(x_t, h, W_ih, W_hh, b_ih, b_hh):
    """PyTorch's GRU, gates stacked r, z, n: r resets the hidden part of n, z keeps the old h."""
    i_r, i_z, i_n = (x_t @ W_ih.T + b_ih).chunk(3, dim=1)
    h_r, h_z, h_n = (h @ W_hh.T + b_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)          # r multiplies W_hn h + b_hn, its bias included
    return (1 - z) * n + z * h


def load_seeds_lstm(lstm, W, b):
    """The seeds' W = [W_f; W_i; W_C; W_o] on [h, x] into PyTorch's weight_ih/weight_hh, gates in PyTorch's
    order i, f, g, o; the bias in bias_ih, zeros in bias_hh (the gates see their sum)."""
    n = lstm.hidden_size
    W_f, W_i, W_C, W_o = W.chunk(4)
    b_f, b_i, b_C, b_o = b.chunk(4)
    stacked = torch.cat([W_i, W_f, W_C, W_o])        # PyTorch's order
    with torch.no_grad():
        lstm.weight_hh_l0.copy_(stacked[:, :n])        # the first n columns multiply h
        lstm.weight_ih_l0.copy_(stacked[:, n:])        # the rest multiply x
        lstm.bias_ih_l0.copy_(torch.cat([b_i, b_f, b_C, b_o]))
        lstm.bias_hh_l0.zero_()
    return lstm


def forget_bias(fraction, steps):
    f = fraction ** (1 / steps)             # f multiplied by itself `steps` times keeps `fraction`
    return math.log(f / (1 - f))           # σ(b_f) = f


# found by trying forget_bias 0, 1, 2, 3, 5: from 3 on it learns (f = σ(3) = 0.95 keeps 21 % over 30 steps)
long_memory = dict(forget_bias=4.0, learning_rate=1e-2)

SOLUTIONS = {
    "gru_step": gru_step,
    "load_seeds_lstm": load_seeds_lstm,
    "forget_bias": forget_bias,
    "long_memory": long_memory,
}


def _gru(order="rzn", reset_inside=True, swap_z=False, hh_bias=True):
    """A wrong variant of gru_step."""
    def step(x_t, h, W_ih, W_hh, b_ih, b_hh):
        gi = dict(zip(order, (x_t @ W_ih.T + b_ih).chunk(3, 1)))
        gh = dict(zip(order, (h @ W_hh.T + (b_hh if hh_bias else 0)).chunk(3, 1)))
        r, z = torch.sigmoid(gi["r"] + gh["r"]), torch.sigmoid(gi["z"] + gh["z"])
        hidden_n = gh["n"] if reset_inside else (h @ W_hh.T).chunk(3, 1)[order.index("n")]
        n = torch.tanh(gi["n"] + r * hidden_n + (0 if reset_inside else b_hh.chunk(3)[order.index("n")]))
        return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h
    return step


def _load(order="ifco", bias_hh="zero", columns="hx"):
    """A wrong variant of load_seeds_lstm."""
    def load(lstm, W, b):
        n, n_in = lstm.hidden_size, lstm.input_size
        blocks, biases = dict(zip("fico", W.chunk(4))), dict(zip("fico", b.chunk(4)))
        stacked = torch.cat([blocks[g] for g in order])
        with torch.no_grad():
            if columns == "hx":
                lstm.weight_hh_l0.copy_(stacked[:, :n])
                lstm.weight_ih_l0.copy_(stacked[:, n:])
            else:
                lstm.weight_ih_l0.copy_(stacked[:, :n_in])
                lstm.weight_hh_l0.copy_(stacked[:, n_in:])
            lstm.bias_ih_l0.copy_(torch.cat([biases[g] for g in order]))
            if bias_hh == "zero":
                lstm.bias_hh_l0.zero_()
    return load


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "gru_step": [(_gru(swap_z=True), "swapped"), (_gru(reset_inside=False), "its bias included"),
                 (_gru(hh_bias=False), "b_hh are missing"), (_gru(order="zrn"), "wrong blocks of rows"),
                 (lambda x_t, h, W_ih, W_hh, b_ih, b_hh: torch.tanh(x_t @ W_ih.T[:, :h.shape[1]] + h), "equations",
                  "torch.tanh(gi[2] + __ * gh[2])"),
                 (lambda x_t, h, W_ih, W_hh, b_ih, b_hh: h[0], "new hidden state")],
    "load_seeds_lstm": [(_load(order="fico"), "seeds' order f, i, C, o"), (_load(bias_hh="keep"), "random start"),
                        (_load(columns="xh"), "the columns"),
                        (_load(order="icfo"), "compare the two layouts", "W.chunk(__)"),
                        (lambda lstm, W, b: None, "leaves the LSTM as it was")],
    "forget_bias": [(lambda p, k: p ** (1 / k), "the forget gate's value f"),
                    (lambda p, k: math.log(p ** (1 / k)), "a log of f", "b_f = math.log(f / (1 - __))"),
                    (lambda p, k: 4.97, "keeps", "f = fraction ** (1 / __)"),
                    (lambda p, k: math.log(p / (1 - p)), "keeps")],
    "long_memory": [(dict(forget_bias=0.0, learning_rate=1e-2), "recalled"),
                    (dict(forget_bias=1.0, learning_rate=1e-2), "recalled"),
                    (dict(forget_bias=4.0), "two keys"), (dict(forget_bias=4.0, learning_rate=5.0), "between")],
}
