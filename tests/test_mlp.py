"""lmutils.mlp: the hand-written backprop equals finite differences and torch.autograd; SGD on nn.Linear
layers with the same weights gives the same losses; clear errors on bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lmutils import mlp


def problem(N, D, M, C, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    params = mlp.init_params(D, M, C, generator=g, dtype=dtype)
    X = torch.randn(N, D, generator=g, dtype=dtype)
    t = torch.randint(0, C, (N,), generator=g)
    return params, X, t


def autograd_grads(params, X, t):
    leaves = {k: p.clone().requires_grad_() for k, p in params.items()}
    H = torch.tanh(X @ leaves["W1"] + leaves["b1"])
    loss = nn.functional.cross_entropy(H @ leaves["W2"] + leaves["b2"], t)
    loss.backward()
    return loss, {k: p.grad for k, p in leaves.items()}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 4), st.integers(1, 6), st.integers(2, 4), st.integers(0, 10**6))
def test_backward_equals_autograd(N, D, M, C, seed):
    params, X, t = problem(N, D, M, C, seed)
    loss, grads = mlp.loss_and_grads(params, X, t)
    ref_loss, ref = autograd_grads(params, X, t)
    assert torch.allclose(loss, ref_loss, rtol=1e-12, atol=1e-12)
    for k in mlp.PARAMS:
        assert grads[k].shape == params[k].shape
        assert torch.allclose(grads[k], ref[k], rtol=1e-10, atol=1e-12), k


def test_backward_equals_finite_differences():
    params, X, t = problem(N=7, D=3, M=5, C=3, seed=1)
    _, grads = mlp.loss_and_grads(params, X, t)
    numeric = mlp.numerical_grad(lambda p: mlp.loss_and_grads(p, X, t)[0], params)
    assert mlp.rel_error(grads, numeric) < 1e-8
    assert set(numeric) == set(mlp.PARAMS)


def test_a_wrong_backward_fails_the_gradient_check():
    params, X, t = problem(N=7, D=3, M=5, C=3, seed=1)
    _, grads = mlp.loss_and_grads(params, X, t)
    grads["W1"] = grads["W1"] * 1.01  # a small bug
    numeric = mlp.numerical_grad(lambda p: mlp.loss_and_grads(p, X, t)[0], params)
    assert mlp.rel_error(grads, numeric) > 1e-4


def test_numerical_grad_of_a_known_function_and_params_left_unchanged():
    params = {"a": torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64), "b": torch.tensor([[0.5]], dtype=torch.float64)}
    before = {k: p.clone() for k, p in params.items()}
    g = mlp.numerical_grad(lambda p: (p["a"] ** 2).sum() + 3 * p["b"].sum(), params)
    assert torch.allclose(g["a"], 2 * before["a"])
    assert torch.allclose(g["b"], torch.tensor([[3.0]], dtype=torch.float64))
    assert all(torch.equal(params[k], before[k]) for k in params)


def test_numerical_grad_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        mlp.numerical_grad(lambda p: p["a"].sum(), {"a": torch.ones(3)})


def test_rel_error():
    a = torch.tensor([1.0, 2.0])
    assert mlp.rel_error(a, a) == 0.0 and mlp.rel_error(torch.zeros(2), torch.zeros(2)) == 0.0
    assert mlp.rel_error(a, -a) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        mlp.rel_error(a, torch.ones(3))
    with pytest.raises(KeyError, match="different keys"):
        mlp.rel_error({"a": a}, {"b": a})


def test_init_params_like_nn_linear():
    params = mlp.init_params(4, 16, 3, generator=torch.Generator().manual_seed(0))
    assert {k: tuple(p.shape) for k, p in params.items()} == {"W1": (4, 16), "b1": (16,), "W2": (16, 3), "b2": (3,)}
    assert params["W1"].abs().max() <= 0.5 and params["W2"].abs().max() <= 0.25 and params["W1"].std() > 0.2
    assert params["W1"].dtype == torch.float32


class Net(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def test_hand_training_equals_nn_module_with_sgd():
    params, X, t = problem(N=20, D=2, M=8, C=2, seed=3, dtype=torch.float32)
    net = Net(2, 8, 2)
    with torch.no_grad():
        net.fc1.weight.copy_(params["W1"].T), net.fc1.bias.copy_(params["b1"])
        net.fc2.weight.copy_(params["W2"].T), net.fc2.bias.copy_(params["b2"])
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(30):
        loss, grads = mlp.loss_and_grads(params, X, t)
        params = {k: params[k] - 0.5 * grads[k] for k in params}
        opt.zero_grad()
        ref = nn.functional.cross_entropy(net(X), t)
        ref.backward()
        opt.step()
        assert abs(loss.item() - ref.item()) < 1e-5
    assert torch.allclose(mlp.predict(params, X), net(X).softmax(1), atol=1e-5)


@pytest.mark.parametrize("change, error, match", [
    (lambda p, X, t: ({"W1": p["W1"]}, X, t), KeyError, "lacks"),
    (lambda p, X, t: (p, X[0], t), ValueError, "2-D tensor"),
    (lambda p, X, t: (p, X.tolist(), t), ValueError, "2-D tensor"),
    (lambda p, X, t: (p, X[:, :2], t), ValueError, "features"),
    (lambda p, X, t: (p, X, t.float()), ValueError, "torch.long"),
    (lambda p, X, t: (p, X, t[:-1]), ValueError, "class indices"),
    (lambda p, X, t: (p, X, t + 5), ValueError, "must lie in 0..2"),
])
def test_bad_input_is_explained(change, error, match):
    params, X, t = problem(N=6, D=3, M=4, C=3)
    with pytest.raises(error, match=match):
        mlp.loss_and_grads(*change(params, X, t))


# --- the MLP language model (notebook 03) ---------------------------------------------------------

def test_mlplm_is_embeddings_concatenated_then_two_layers():
    torch.manual_seed(0)
    model = mlp.MLPLM(vocab_size=11, context=3, n_embd=5, n_hidden=7)
    idx = torch.randint(0, 11, (6, 3))
    C, W1, b1 = model.embed.weight, model.hidden.weight.T, model.hidden.bias
    x = torch.cat([nn.functional.one_hot(idx[:, j], 11).float() @ C for j in range(3)], dim=1)
    expected = torch.tanh(x @ W1 + b1) @ model.head.weight.T + model.head.bias
    torch.testing.assert_close(model(idx), expected)
    assert model(idx).shape == (6, 11)


def test_mlplm_refuses_a_context_of_another_length():
    model = mlp.MLPLM(vocab_size=11, context=3)
    with pytest.raises(ValueError, match=r"previous 3 tokens.*\(B, 3\), got \(2, 4\)"):
        model(torch.zeros(2, 4, dtype=torch.long))


def test_context_windows_pairs_each_token_with_the_tokens_before_it():
    ids = torch.arange(10)
    X, y = mlp.context_windows(ids, 4)
    assert X.shape == (6, 4) and y.tolist() == list(range(4, 10))
    assert X[2].tolist() == [2, 3, 4, 5]
    with pytest.raises(ValueError, match="context must be between 1 and"):
        mlp.context_windows(ids, 10)


def test_mlplm_learns_what_a_bigram_cannot():
    # the next token is the sum of the two before it (mod 7): a bigram is at chance, the MLP with context 2 is not
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 7, (2000,), generator=g)
    ids = torch.zeros(2000, dtype=torch.long)
    ids[:2] = a[:2]
    for i in range(2, 2000):
        ids[i] = (ids[i - 1] + ids[i - 2]) % 7 if i % 3 == 2 else a[i]
    X, y = mlp.context_windows(ids, 2)
    keep = torch.arange(len(y)) % 3 == 0   # targets ids[i] with i % 3 == 2
    X, y = X[keep], y[keep]
    torch.manual_seed(0)
    model = mlp.MLPLM(7, context=2, n_embd=8, n_hidden=64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(X).argmax(1) == y).float().mean() > 0.95
