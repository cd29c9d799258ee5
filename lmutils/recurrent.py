"""Recurrent networks from scratch (notebooks 04 and 05): the equations as code, with the same symbols.

    RNN   h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)
    LSTM  f_t = σ(W_hf h_{t-1} + W_xf x_t + b_f)        forget gate
          i_t = σ(W_hi h_{t-1} + W_xi x_t + b_i)        input gate
          C̃_t = tanh(W_hc h_{t-1} + W_xc x_t + b_c)     candidate cell state
          C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t               cell state (the additive path)
          o_t = σ(W_ho h_{t-1} + W_xo x_t + b_o)        output gate
          h_t = o_t ⊙ tanh(C_t)

Shapes: x is (B, T, n_in), batch first like the course's models; a hidden state is (B, n_hidden).
A weight has the equations' (and PyTorch's) layout, W_xh: (n_hidden, n_in), so for a batch of row
vectors W_xh x_t is `x_t @ W_xh.T`. The recurrence loops over time steps: that is what a recurrent
network is. Training uses torch.nn.RNN / nn.LSTM (lmutils.models); tests keep both equal.
"""

from typing import NamedTuple

import torch
import torch.nn as nn

RNN_PARAMS = ("W_xh", "W_hh", "b_h")
LSTM_GATES = ("f", "i", "c", "o")  # ours: forget, input, candidate C̃, output
TORCH_GATE_ORDER = ("i", "f", "c", "o")  # PyTorch stacks its gate weights as i, f, g (= C̃), o
LSTM_PARAMS = tuple(name for g in LSTM_GATES for name in (f"W_x{g}", f"W_h{g}", f"b_{g}"))


# --- the simple (Elman) RNN -------------------------------------------------------------------------

def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """All hidden states H (B, T, n_hidden) of h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), from h0 (B, n_hidden)
    (None: zeros). The last one, H[:, -1], is the state to carry on with."""
    h = _initial_state(x, h0, W_xh, W_hh, b_h)
    H = []
    for t in range(x.shape[1]):
        h = torch.tanh(h @ W_hh.T + x[:, t] @ W_xh.T + b_h)
        H.append(h)
    return torch.stack(H, dim=1)


def rnn_backward(x, h0, H, dH, W_xh, W_hh):
    """Backpropagation through time for rnn_forward, by hand.

    dH (B, T, n_hidden) is the loss's direct gradient with respect to each h_t (through the output y_t only).
    Walking back from t = T to 1, the gradient reaching h_t is its direct part plus what flows back from
    h_{t+1}: ∂L/∂h_t = dH_t + W_hhᵀ [(1 - h_{t+1}²) ⊙ ∂L/∂h_{t+1}]. Returns a dict with dh (B, T, n_hidden),
    the total ∂L/∂h_t, and the gradients dx, dh0, dW_xh, dW_hh, db_h.
    """
    h0 = _initial_state(x, h0, W_xh, W_hh)
    if H.shape != dH.shape or H.shape[:2] != x.shape[:2]:
        raise ValueError(f"H and dH must both be (B, T, n_hidden) = {(*x.shape[:2], W_hh.shape[0])}, "
                         f"got {tuple(H.shape)} and {tuple(dH.shape)}")
    dh, da = torch.empty_like(H), torch.empty_like(H)
    g = torch.zeros_like(h0)  # what flows back into h_t from step t+1
    for t in reversed(range(H.shape[1])):
        dh[:, t] = dH[:, t] + g
        da[:, t] = dh[:, t] * (1 - H[:, t] ** 2)  # ∂L/∂a_t, through tanh (a_t: the pre-activation)
        g = da[:, t] @ W_hh
    H_prev = torch.cat([h0[:, None], H[:, :-1]], dim=1)  # h_{t-1} for every t
    return {"dh": dh, "dx": da @ W_xh, "dh0": g,
            "dW_xh": torch.einsum("bth,bti->hi", da, x), "dW_hh": torch.einsum("bth,btj->hj", da, H_prev),
            "db_h": da.sum((0, 1))}


# --- the LSTM --------------------------------------------------------------------------------------

class LSTMStates(NamedTuple):
    """Everything lstm_forward computed, each (B, T, n_hidden): what the gates did at every step."""
    h: torch.Tensor
    C: torch.Tensor
    f: torch.Tensor
    i: torch.Tensor
    C_tilde: torch.Tensor
    o: torch.Tensor


def lstm_forward(x, h0, C0, W_xf, W_hf, b_f, W_xi, W_hi, b_i, W_xc, W_hc, b_c, W_xo, W_ho, b_o):
    """Run the LSTM equations over x (B, T, n_in) from h0, C0 (B, n_hidden) (None: zeros).
    Returns LSTMStates(h, C, f, i, C_tilde, o), each (B, T, n_hidden)."""
    h = _initial_state(x, h0, W_xf, W_hf, b_f, W_xi, W_hi, b_i, W_xc, W_hc, b_c, W_xo, W_ho, b_o)
    C = _initial_state(x, C0, W_xf, W_hf)
    steps = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        f = torch.sigmoid(h @ W_hf.T + x_t @ W_xf.T + b_f)
        i = torch.sigmoid(h @ W_hi.T + x_t @ W_xi.T + b_i)
        C_tilde = torch.tanh(h @ W_hc.T + x_t @ W_xc.T + b_c)
        C = f * C + i * C_tilde
        o = torch.sigmoid(h @ W_ho.T + x_t @ W_xo.T + b_o)
        h = o * torch.tanh(C)
        steps.append((h, C, f, i, C_tilde, o))
    return LSTMStates(*(torch.stack(s, dim=1) for s in zip(*steps)))


# --- several layers, as nn.RNN / nn.LSTM(num_layers=L) -----------------------------------------------

def rnn_stack_forward(x, layers, h0=None):
    """A stack of RNN layers, layer l reading the hidden states of layer l-1. layers: a list of parameter
    dicts (rnn_params_from_torch); h0: (L, B, n_hidden) or None. Returns (top layer's H, last states (L, B, n))."""
    _check_layers(layers, RNN_PARAMS, h0)
    last = []
    for l, p in enumerate(layers):
        x = rnn_forward(x, None if h0 is None else h0[l], **p)
        last.append(x[:, -1])
    return x, torch.stack(last)


def lstm_stack_forward(x, layers, state=None):
    """A stack of LSTM layers, like nn.LSTM(num_layers=L, batch_first=True): returns (top layer's h (B, T, n),
    (h_T, C_T) each (L, B, n)). state: (h0, C0) each (L, B, n_hidden), or None."""
    _check_layers(layers, LSTM_PARAMS, None if state is None else state[0])
    hs, Cs = [], []
    for l, p in enumerate(layers):
        s = lstm_forward(x, *((None, None) if state is None else (state[0][l], state[1][l])), **p)
        x = s.h
        hs.append(s.h[:, -1]), Cs.append(s.C[:, -1])
    return x, (torch.stack(hs), torch.stack(Cs))


# --- weights from and to PyTorch -------------------------------------------------------------------

def rnn_params_from_torch(rnn: nn.RNN, layer: int = 0) -> dict:
    """Copies of one layer's weights of an nn.RNN as {W_xh, W_hh, b_h}, fresh tensors that require grad.
    PyTorch has two biases, b_ih and b_hh, that are always added: b_h = b_ih + b_hh."""
    _check_torch_rnn(rnn, nn.RNN, layer)
    w = _layer_weights(rnn, layer)
    return _leaves({"W_xh": w["weight_ih"], "W_hh": w["weight_hh"], "b_h": w["bias_ih"] + w["bias_hh"]})


def rnn_params_to_torch(params: dict, rnn: nn.RNN, layer: int = 0) -> nn.RNN:
    """Copy {W_xh, W_hh, b_h} into one layer of an nn.RNN (b_h into b_ih, zeros into b_hh); returns rnn."""
    _check_torch_rnn(rnn, nn.RNN, layer)
    _check_keys(params, RNN_PARAMS)
    _copy_into(rnn, layer, params["W_xh"], params["W_hh"], params["b_h"])
    return rnn


def lstm_params_from_torch(lstm: nn.LSTM, layer: int = 0) -> dict:
    """Copies of one layer's weights of an nn.LSTM as {W_xf, W_hf, b_f, W_xi, ...}, fresh tensors that require
    grad. PyTorch stacks the four gates' weights in the order i, f, g (our C̃), o, and adds two biases."""
    _check_torch_rnn(lstm, nn.LSTM, layer)
    w = _layer_weights(lstm, layer)
    chunks = {k: dict(zip(TORCH_GATE_ORDER, v.chunk(4))) for k, v in w.items()}
    params = {}
    for g in LSTM_GATES:
        params[f"W_x{g}"] = chunks["weight_ih"][g]
        params[f"W_h{g}"] = chunks["weight_hh"][g]
        params[f"b_{g}"] = chunks["bias_ih"][g] + chunks["bias_hh"][g]
    return _leaves(params)


def lstm_params_to_torch(params: dict, lstm: nn.LSTM, layer: int = 0) -> nn.LSTM:
    """Copy {W_xf, W_hf, b_f, …} into one layer of an nn.LSTM, in PyTorch's gate order i, f, g, o; returns lstm."""
    _check_torch_rnn(lstm, nn.LSTM, layer)
    _check_keys(params, LSTM_PARAMS)
    def stack(fmt):
        return torch.cat([params[fmt.format(g)] for g in TORCH_GATE_ORDER])

    _copy_into(lstm, layer, stack("W_x{}"), stack("W_h{}"), stack("b_{}"))
    return lstm


# --- helpers: checks with clear errors -------------------------------------------------------------

def _initial_state(x, h0, W_x, W_h, *more):
    if x.dim() != 3:
        raise ValueError(f"x must be (batch, time, features), got shape {tuple(x.shape)}; "
                         "for a single sequence use x[None]")
    n_hidden, n_in = W_x.shape
    if x.shape[-1] != n_in:
        raise ValueError(f"x has {x.shape[-1]} features but the input weights {tuple(W_x.shape)} expect {n_in} "
                         "(weights are (n_hidden, n_in), as in PyTorch)")
    if W_h.shape != (n_hidden, n_hidden):
        raise ValueError(f"the recurrent weights must be (n_hidden, n_hidden) = ({n_hidden}, {n_hidden}), "
                         f"got {tuple(W_h.shape)}")
    for w in more:
        if w.shape[0] != n_hidden:
            raise ValueError(f"every weight and bias must have n_hidden = {n_hidden} rows, got one of shape "
                             f"{tuple(w.shape)}")
    if h0 is None:
        return x.new_zeros(x.shape[0], n_hidden)
    if h0.shape != (x.shape[0], n_hidden):
        raise ValueError(f"the initial state must be (batch, n_hidden) = ({x.shape[0]}, {n_hidden}), "
                         f"got {tuple(h0.shape)}")
    return h0


def _check_keys(params, names):
    if not isinstance(params, dict) or set(params) != set(names):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"expected a dict with exactly the weights {', '.join(names)}; got {got}")


def _check_layers(layers, names, h0):
    if not layers:
        raise ValueError("layers is empty: give a list with one parameter dict per layer")
    for p in layers:
        _check_keys(p, names)
    if h0 is not None and h0.shape[0] != len(layers):
        raise ValueError(f"the initial state must be (n_layers, batch, n_hidden) with n_layers = {len(layers)}, "
                         f"got {tuple(h0.shape)}")


def _check_torch_rnn(module, cls, layer):
    if type(module) is not cls:
        raise TypeError(f"expected a torch.nn.{cls.__name__}, got {type(module).__name__}")
    if module.bidirectional or getattr(module, "proj_size", 0):
        raise ValueError("bidirectional or projected (proj_size) modules are not supported here")
    if cls is nn.RNN and module.nonlinearity != "tanh":
        raise ValueError(f"this is an RNN with nonlinearity={module.nonlinearity!r}; the equations here use tanh")
    if not module.bias:
        raise ValueError("the module was built with bias=False; build it with biases (the default)")
    if not 0 <= layer < module.num_layers:
        raise ValueError(f"layer must be between 0 and {module.num_layers - 1}, got {layer}")


def _layer_weights(module, layer):
    return {k: getattr(module, f"{k}_l{layer}").detach() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _copy_into(module, layer, W_x, W_h, b):
    want = getattr(module, f"weight_ih_l{layer}").shape
    if W_x.shape != want or W_h.shape != getattr(module, f"weight_hh_l{layer}").shape:
        raise ValueError(f"the weights do not fit layer {layer} of this module: input weights {tuple(W_x.shape)} "
                         f"(module: {tuple(want)}), recurrent {tuple(W_h.shape)}")
    with torch.no_grad():
        getattr(module, f"weight_ih_l{layer}").copy_(W_x)
        getattr(module, f"weight_hh_l{layer}").copy_(W_h)
        getattr(module, f"bias_ih_l{layer}").copy_(b)
        getattr(module, f"bias_hh_l{layer}").zero_()


def _leaves(params):
    return {k: v.clone().requires_grad_() for k, v in params.items()}
