"""lmutils.engine.Value: values and gradients equal torch.autograd's on random expressions; clear errors."""

import math

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmutils.engine import Value
from lmutils.course.plot import draw_graph

matplotlib.use("Agg")

# Each operation works on a Value and on a float64 tensor alike; the inner guards keep it defined and finite.
UNARY = {
    "neg": lambda u: -u,
    "square": lambda u: u ** 2,
    "cube": lambda u: u ** 3,
    "sqrt": lambda u: (u * u + 1) ** 0.5,
    "inv_pow": lambda u: (u * u + 0.5) ** -1.5,
    "exp": lambda u: u.tanh().exp(),
    "log": lambda u: (u * u + 0.1).log(),
    "tanh": lambda u: u.tanh(),
    "sigmoid": lambda u: u.sigmoid(),
    "relu": lambda u: u.relu(),
    "rsub": lambda u: 1.5 - u,
    "rdiv": lambda u: 2 / (u * u + 1),
    "radd_rmul": lambda u: 3 * u + 0.5,
}
BINARY = {
    "add": lambda u, v: u + v,
    "sub": lambda u, v: u - v,
    "mul": lambda u, v: u * v,
    "div": lambda u, v: u / (v * v + 1),
}

leaf = st.floats(-2, 2, allow_nan=False)
step = st.one_of(st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 99)),
                 st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 99), st.integers(0, 99)))


def evaluate(program, leaves):
    """Run a program (a list of steps, each an op applied to earlier nodes) on Values or tensors alike.
    Nodes may be used many times, so the graph is a DAG, not a tree. Returns the last node."""
    nodes = list(leaves)
    for op, *args in program:
        inputs = [nodes[i % len(nodes)] for i in args]
        nodes.append((UNARY[op] if op in UNARY else BINARY[op])(*inputs))
    return nodes[-1] + nodes[-2]


@settings(max_examples=200, deadline=None)
@given(st.lists(leaf, min_size=2, max_size=4), st.lists(step, min_size=1, max_size=7))
def test_value_and_gradients_match_torch_autograd(xs, program):
    values = [Value(x) for x in xs]
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = evaluate(program, values)
    ref = evaluate(program, tensors)
    out.backward()
    ref.backward()
    assert math.isclose(out.data, ref.item(), rel_tol=1e-9, abs_tol=1e-12)
    for v, t in zip(values, tensors):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert math.isclose(v.grad, expected, rel_tol=1e-8, abs_tol=1e-10), (program, xs)


def test_a_neuron_by_hand():
    w, x, b = Value(0.8), Value(1.5), Value(-0.5)
    y = (w * x + b).sigmoid()
    y.backward()
    s = 1 / (1 + math.exp(-0.7))
    assert y.data == pytest.approx(s)
    assert w.grad == pytest.approx(s * (1 - s) * 1.5) and x.grad == pytest.approx(s * (1 - s) * 0.8)
    assert b.grad == pytest.approx(s * (1 - s))


def test_leaves_accumulate_intermediates_do_not():
    a = Value(3.0)
    b = a * a          # a used twice: both uses add to a.grad
    c = b + 1
    c.backward()
    assert a.grad == 6.0 and b.grad == 1.0
    c.backward()       # like PyTorch: leaves accumulate, so zero them between steps
    assert a.grad == 12.0 and b.grad == 1.0 and c.grad == 1.0
    c.zero_grad()
    assert a.grad == b.grad == c.grad == 0.0


def test_deep_graphs_do_not_hit_the_recursion_limit():
    xs = [Value(float(i)) for i in range(5000)]
    total = sum(xs)
    total.backward()
    assert total.data == sum(range(5000)) and all(x.grad == 1.0 for x in xs)


def test_sigmoid_and_relu_at_the_extremes():
    assert Value(-1000).sigmoid().data == 0.0 and Value(1000).sigmoid().data == 1.0
    r = Value(0.0).relu()
    r.backward()
    assert r.data == 0.0 and r._prev[0].grad == 0.0  # PyTorch's convention at the kink


@pytest.mark.parametrize("bad, match", [("3", "one real number"), ([1.0], "one real number"),
                                        (torch.tensor(1.0), r"\.item\(\)"), (1 + 2j, "one real number")])
def test_bad_data_is_refused_with_a_hint(bad, match):
    with pytest.raises(TypeError, match=match):
        Value(bad)
    with pytest.raises(TypeError, match=match):
        Value(1.0) + bad


def test_bad_operations_explain_themselves():
    with pytest.raises(TypeError, match="plain number k"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).log()
    with pytest.raises(ValueError, match="fractional power"):
        Value(-4.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match="by zero"):
        Value(1.0) / 0
    with pytest.raises(OverflowError, match="too large"):
        Value(800.0).exp()


def test_draw_graph_draws_one_box_per_value():
    w, x = Value(0.5, label="w"), Value(2.0, label="x")
    L = (w * x).tanh()
    L.label = "L"
    L.backward()
    ax = draw_graph(L)
    texts = [t.get_text() for t in ax.texts if t.get_text()]  # the arrows are empty annotations
    assert len(texts) == 4 and any(t.startswith("L = tanh") for t in texts)
    assert any("grad 1" in t for t in texts)
    assert sum(t.startswith("w\ndata 0.5\ngrad") for t in texts) == 1
    plt.close("all")
