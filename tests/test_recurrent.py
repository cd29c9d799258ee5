"""The from-scratch RNN and LSTM (lmutils.recurrent) equal torch.nn.RNN / nn.LSTM with copied weights:
forward outputs and gradients (inputs, initial states, weights), for several shapes and layer counts."""

import pytest
import torch
import torch.nn as nn

from lmutils.models import LSTMConfig, LSTMLM, RNNConfig, RNNLM
from lmutils.recurrent import (LSTM_PARAMS, RNN_PARAMS, lstm_forward, lstm_params_from_torch, lstm_params_to_torch,
                               lstm_stack_forward, rnn_backward, rnn_forward, rnn_params_from_torch,
                               rnn_params_to_torch, rnn_stack_forward)

TOL = 1e-5
SHAPES = [(1, 1, 1, 1), (3, 7, 5, 4), (2, 30, 8, 16), (4, 12, 3, 32)]  # (B, T, n_in, n_hidden)


def close(a, b):
    """Equal within TOL, relative to the size of the numbers once they exceed 1 (float32 gradients of deep
    stacks reach tens)."""
    assert a.shape == b.shape
    assert (a - b).abs().max().item() < TOL * max(1.0, b.abs().max().item())


def inputs(B, T, n_in, n_hidden, L=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, n_in, generator=g, requires_grad=True)
    h0 = (0.5 * torch.randn(L, B, n_hidden, generator=g)).requires_grad_()
    C0 = torch.randn(L, B, n_hidden, generator=g).requires_grad_()
    return x, h0, C0


def scramble(module, seed=1):
    """Weights larger than PyTorch's default init (and distinct biases), so that mistakes show up clearly."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    return module


def setup(cls, params_from_torch, B, T, n_in, n_hidden, L):
    """A PyTorch module with scrambled weights, our copies of each layer's weights, and inputs."""
    torch.manual_seed(0)
    module = scramble(cls(n_in, n_hidden, num_layers=L, batch_first=True))
    return module, [params_from_torch(module, l) for l in range(L)], inputs(B, T, n_in, n_hidden, L)


def grads(out, wrt, seed=2):
    """Gradients of a random linear function of out: exercises every output element."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(out.shape, generator=g)
    return torch.autograd.grad((out * w).sum(), wrt)


@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("B, T, n_in, n_hidden", SHAPES)
def test_rnn_equals_torch_forward_and_gradients(B, T, n_in, n_hidden, L):
    rnn, layers, (x, h0, _) = setup(nn.RNN, rnn_params_from_torch, B, T, n_in, n_hidden, L)

    out, h_T = rnn(x, h0)
    ours, ours_T = rnn_stack_forward(x, layers, h0)
    close(ours, out), close(ours_T, h_T)

    weights = [p[k] for p in layers for k in RNN_PARAMS]
    theirs = grads(out, [x, h0, *rnn.parameters()])
    mine = grads(ours, [x, h0, *weights])
    close(mine[0], theirs[0]), close(mine[1], theirs[1])
    for l in range(L):  # PyTorch's order per layer: weight_ih, weight_hh, bias_ih, bias_hh
        g_ih, g_hh, g_bih, g_bhh = theirs[2 + 4 * l: 6 + 4 * l]
        g_xh, g_w_hh, g_b = mine[2 + 3 * l: 5 + 3 * l]
        close(g_xh, g_ih), close(g_w_hh, g_hh), close(g_b, g_bih), close(g_b, g_bhh)


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("B, T, n_in, n_hidden", SHAPES)
def test_lstm_equals_torch_forward_and_gradients(B, T, n_in, n_hidden, L):
    lstm, layers, (x, h0, C0) = setup(nn.LSTM, lstm_params_from_torch, B, T, n_in, n_hidden, L)

    out, (h_T, C_T) = lstm(x, (h0, C0))
    ours, (ours_h, ours_C) = lstm_stack_forward(x, layers, (h0, C0))
    close(ours, out), close(ours_h, h_T), close(ours_C, C_T)

    weights = [p[k] for p in layers for k in LSTM_PARAMS]
    theirs = grads(out, [x, h0, C0, *lstm.parameters()])
    mine = grads(ours, [x, h0, C0, *weights])
    for a, b in zip(mine[:3], theirs[:3]):
        close(a, b)
    H = n_hidden
    for l in range(L):
        g_ih, g_hh, g_bih, g_bhh = theirs[3 + 4 * l: 7 + 4 * l]
        ours_l = dict(zip(LSTM_PARAMS, mine[3 + 12 * l: 15 + 12 * l]))
        for k, gate in enumerate("ifco"):  # PyTorch's rows: i, f, g (= C̃), o
            rows = slice(k * H, (k + 1) * H)
            close(ours_l[f"W_x{gate}"], g_ih[rows]), close(ours_l[f"W_h{gate}"], g_hh[rows])
            close(ours_l[f"b_{gate}"], g_bih[rows]), close(ours_l[f"b_{gate}"], g_bhh[rows])


def test_lstm_states_are_the_gate_equations():
    torch.manual_seed(0)
    p = lstm_params_from_torch(scramble(nn.LSTM(3, 5, batch_first=True)))
    x, h0, C0 = inputs(2, 6, 3, 5)
    s = lstm_forward(x, h0[0], C0[0], **p)
    assert s.h.shape == s.C.shape == s.f.shape == s.i.shape == s.C_tilde.shape == s.o.shape == (2, 6, 5)
    C_prev = torch.cat([C0[0][:, None], s.C[:, :-1]], 1)
    close(s.C, s.f * C_prev + s.i * s.C_tilde)
    close(s.h, s.o * torch.tanh(s.C))
    for gate in (s.f, s.i, s.o):
        assert ((gate > 0) & (gate < 1)).all()
    # PyTorch's rows are i, f, g (= C̃), o: the input gate first, the forget gate second
    H = 5
    target = lstm_params_to_torch(p, nn.LSTM(3, 5))
    assert torch.equal(target.weight_ih_l0[:H], p["W_xi"]) and torch.equal(target.weight_ih_l0[H:2 * H], p["W_xf"])
    assert torch.equal(target.weight_hh_l0[2 * H:3 * H], p["W_hc"]) and torch.equal(target.bias_ih_l0[3 * H:], p["b_o"])


def test_params_round_trip_through_torch():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(3)
    p = {"W_xh": torch.randn(6, 6, generator=g), "W_hh": torch.randn(6, 6, generator=g),
         "b_h": torch.randn(6, generator=g)}
    rnn = rnn_params_to_torch(p, nn.RNN(6, 6, num_layers=2, batch_first=True), layer=1)
    back = rnn_params_from_torch(rnn, layer=1)
    assert all(torch.equal(back[k], p[k]) for k in RNN_PARAMS)
    assert all(v.requires_grad and v.is_leaf for v in back.values())
    assert torch.equal(rnn.bias_hh_l1, torch.zeros(6)) and torch.equal(rnn.bias_ih_l1, p["b_h"])


def test_rnn_backward_by_hand_equals_autograd():
    torch.manual_seed(0)
    p = rnn_params_from_torch(scramble(nn.RNN(5, 8, batch_first=True)))
    x, h0, _ = inputs(3, 25, 5, 8)
    H = rnn_forward(x, h0[0], **p)
    dH = torch.randn(H.shape)
    auto = torch.autograd.grad((H * dH).sum(), [x, h0, p["W_xh"], p["W_hh"], p["b_h"]])
    by_hand = rnn_backward(x.detach(), h0[0].detach(), H.detach(), dH, p["W_xh"].detach(), p["W_hh"].detach())
    for name, g in zip(["dx", "dh0", "dW_xh", "dW_hh", "db_h"], auto):
        close(by_hand[name], g[0] if name == "dh0" else g)
    # dh is the total gradient at each step: at the last step only the direct part arrives
    close(by_hand["dh"][:, -1], dH[:, -1])


def test_rnn_backward_gradient_of_last_step_only():
    """dh[:, t] is ∂L/∂h_t for a loss on the last state only: checked by nudging h_t through the input."""
    torch.manual_seed(0)
    p = rnn_params_from_torch(scramble(nn.RNN(4, 4, batch_first=True)))
    x = torch.randn(1, 10, 4)
    H = rnn_forward(x, None, **p).detach()
    dH = torch.zeros_like(H)
    dH[:, -1] = 1.0
    dh = rnn_backward(x, None, H, dH, p["W_xh"].detach(), p["W_hh"].detach())["dh"]
    t = 4  # restart the recurrence from h_t as a leaf: its gradient is ∂(Σ h_T)/∂h_t
    h_t = H[:, t].clone().requires_grad_()
    (g,) = torch.autograd.grad(rnn_forward(x[:, t + 1:], h_t, **p)[:, -1].sum(), h_t)
    close(dh[:, t], g)


@pytest.mark.parametrize("cls, cfg, forward", [(RNNLM, RNNConfig, "rnn"), (LSTMLM, LSTMConfig, "lstm")])
def test_course_models_are_the_equations(cls, cfg, forward):
    torch.manual_seed(0)
    model = cls(cfg(vocab_size=11, n_embd=6, n_hidden=9, n_layer=2)).eval()
    idx = torch.randint(0, 11, (2, 13))
    if forward == "rnn":
        out, _ = rnn_stack_forward(model.embed(idx), [rnn_params_from_torch(model.rnn, l) for l in range(2)])
    else:
        out, _ = lstm_stack_forward(model.embed(idx), [lstm_params_from_torch(model.rnn, l) for l in range(2)])
    close(model.head(out), model(idx))


def test_a_gate_order_mix_up_is_caught():
    torch.manual_seed(0)
    lstm = scramble(nn.LSTM(3, 4, batch_first=True))
    p = lstm_params_from_torch(lstm)
    swapped = {k.replace("f", "@").replace("i", "f").replace("@", "i") if k[-1] in "fi" else k: v
               for k, v in p.items()}  # f ↔ i, the classic mistake
    x = torch.randn(2, 5, 3)
    assert (lstm_forward(x, None, None, **p).h - lstm(x)[0]).abs().max() < TOL
    assert (lstm_forward(x, None, None, **swapped).h - lstm(x)[0]).abs().max() > 1e-2


def test_clear_errors():
    p = rnn_params_from_torch(nn.RNN(3, 4))
    with pytest.raises(ValueError, match=r"x must be \(batch, time, features\).*x\[None\]"):
        rnn_forward(torch.randn(5, 3), None, **p)
    with pytest.raises(ValueError, match="x has 2 features but the input weights"):
        rnn_forward(torch.randn(1, 5, 2), None, **p)
    with pytest.raises(ValueError, match=r"initial state must be \(batch, n_hidden\) = \(1, 4\)"):
        rnn_forward(torch.randn(1, 5, 3), torch.zeros(4), **p)
    with pytest.raises(ValueError, match=r"recurrent weights must be \(n_hidden, n_hidden\)"):
        rnn_forward(torch.randn(1, 5, 3), None, p["W_xh"], p["W_hh"][:, :2], p["b_h"])
    with pytest.raises(ValueError, match="n_hidden = 4 rows"):
        rnn_forward(torch.randn(1, 5, 3), None, p["W_xh"], p["W_hh"], torch.zeros(3))
    with pytest.raises(TypeError, match="expected a torch.nn.LSTM, got RNN"):
        lstm_params_from_torch(nn.RNN(3, 4))
    with pytest.raises(ValueError, match="nonlinearity='relu'"):
        rnn_params_from_torch(nn.RNN(3, 4, nonlinearity="relu"))
    with pytest.raises(ValueError, match="layer must be between 0 and 1"):
        rnn_params_from_torch(nn.RNN(3, 4, num_layers=2), layer=2)
    with pytest.raises(ValueError, match="bidirectional"):
        lstm_params_from_torch(nn.LSTM(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match="bias=False"):
        rnn_params_from_torch(nn.RNN(3, 4, bias=False))
    with pytest.raises(ValueError, match="exactly the weights W_xh, W_hh, b_h"):
        rnn_params_to_torch({"W_xh": p["W_xh"]}, nn.RNN(3, 4))
    with pytest.raises(ValueError, match="do not fit layer 0"):
        rnn_params_to_torch(p, nn.RNN(5, 4))
    with pytest.raises(ValueError, match=r"\(n_layers, batch, n_hidden\) with n_layers = 1"):
        rnn_stack_forward(torch.randn(1, 5, 3), [p], torch.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="layers is empty"):
        lstm_stack_forward(torch.randn(1, 5, 3), [])
    with pytest.raises(ValueError, match="H and dH must both be"):
        rnn_backward(torch.randn(1, 5, 3), None, torch.zeros(1, 5, 4), torch.zeros(1, 4, 4), p["W_xh"], p["W_hh"])


def test_pictures_of_notebooks_04_and_05():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmutils.course.plot import draw_unrolled, text_heatmap

    fig, ax = plt.subplots()
    im = text_heatmap(ax, "ab\ncde", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], width=4)
    grid = im.get_array()
    assert grid.shape == (2, 4)  # a line break starts a new row
    assert grid[0, 2] == pytest.approx(0.3) and grid[1, 2] == pytest.approx(0.6) and grid.mask[0, 3]
    assert [t.get_text() for t in ax.texts] == ["a", "b", "↵", "c", "d", "e"]
    with pytest.raises(ValueError, match="one value per character: 3 characters, 2 values"):
        text_heatmap(ax, "abc", [1.0, 2.0])
    draw_unrolled(ax, steps=3, lstm=True, grads=[0.1, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"one number per step \(3\), got 2"):
        draw_unrolled(ax, steps=3, grads=[1.0, 2.0])
    plt.close(fig)
