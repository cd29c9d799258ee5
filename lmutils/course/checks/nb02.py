"""Checkers for notebook 02 · Gradient descent and backprop."""

import math

import torch

from ...engine import Value
from . import attempt, checker, close, correct, forbid, hint, placeholder, unanswered

AUTOGRAD = ("torch.Tensor.backward", "torch.autograd.backward", "torch.autograd.grad")  # derive it by hand


def _number(answer):
    """answer as a float, or (None, Feedback)."""
    if unanswered(answer):
        return None, placeholder()
    try:
        return float(answer), None
    except (TypeError, ValueError):
        return None, hint(f"give one number, got {type(answer).__name__}.")


@checker
def mse_grad(fn):
    g = torch.Generator().manual_seed(0)
    y, t = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    leaf = y.clone().requires_grad_()
    ((leaf - t) ** 2).mean().backward()
    with forbid(fn, *AUTOGRAD):
        out, err = attempt(fn, y.clone(), t.clone())
    if err is not None:
        return err
    if not isinstance(out, torch.Tensor) or out.shape != y.shape:
        return hint("return a tensor with one derivative per prediction: the same shape as y.")
    if close(out, leaf.grad):
        return correct("∂E/∂y_n = 2(y_n − t_n)/N: the mean divides every gradient by N.")
    if close(out, leaf.grad * len(y)):
        return hint("almost: E is a mean, so each term, and each derivative, is divided by N.")
    if close(out, -leaf.grad):
        return hint("the sign is flipped: E grows when y moves away from t.")
    if close(out, leaf.grad / 2):
        return hint("the derivative of (y − t)² is 2(y − t): a factor is missing.")
    return hint("differentiate (1/N) Σ (y_n − t_n)² with respect to one y_n: only one term of the sum depends on it.",
                "only the term (y_n − t_n)² depends on y_n: differentiate it (chain rule), and keep the 1/N.",
                "∂E/∂y_n = (1/N) · 2(y_n − t_n): in code, 2 * (y - t) / len(y).")


@checker
def chain_rule(answer):
    value, err = _number(answer)
    if err is not None:
        return err
    w, x, b, t = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.5, 2.0, -1.0, 0.5))
    L = (torch.tanh(w * x + b) - t) ** 2
    L.backward()
    expected = w.grad.item()
    if abs(value - expected) < 1e-6:
        return correct("dL/dw = 2(y − t) · (1 − y²) · x = 2(−0.5) · 1 · 2.")
    if abs(value + expected) < 1e-6:
        return hint("the size is right, the sign is not: is y − t positive or negative here?")
    if abs(value - expected / 2) < 1e-6:
        return hint("one factor of 2 is missing: look at each local derivative again.",
                    "one factor is missing: the outer derivative of (y − t)² is 2(y − t); "
                    "and ∂z/∂w = x is 2 here.")
    return hint("first compute z and y for these numbers; then follow the graph back from L to w, one "
                "node at a time.",
                "dL/dw = ∂L/∂y · ∂y/∂z · ∂z/∂w: three local derivatives, multiplied. Which are they?",
                "multiply the three local derivatives: ∂L/∂y = 2(y − t), ∂y/∂z = 1 − tanh²(z), ∂z/∂w = x, "
                "with z = 0.5·2 − 1 = 0 and y = tanh(0) = 0.")


@checker
def value_sin(fn):
    for start in (0.3, -1.2, 2.0):
        a = Value(start)
        out, err = attempt(fn, a)
        if err is not None:
            return err
        if not isinstance(out, Value):
            return hint(f"return a Value (use v._make(data, op, [(v, local derivative)])), got {type(out).__name__}.")
        if not math.isclose(out.data, math.sin(start), abs_tol=1e-9):
            return hint(f"the forward value is wrong: sin({start}) = {math.sin(start):.4f}, "
                        f"you computed {out.data:.4f}.")
        L = out * a            # a used twice: checks that gradients flow and accumulate
        L.backward()
        expected = math.cos(start) * start + math.sin(start)
        if math.isclose(a.grad, math.sin(start), abs_tol=1e-9):
            return hint("no gradient flows through your sin: what does _make need besides the data?",
                        "no gradient flows through your sin: did you give _make the input and its local derivative?")
        if math.isclose(a.grad, -math.cos(start) * start + math.sin(start), abs_tol=1e-9):
            return hint("the local derivative has the wrong sign: d/dx sin(x) = +cos(x).")
        if not math.isclose(a.grad, expected, abs_tol=1e-9):
            return hint("the gradient is wrong: what is the derivative of sin, and at which point?",
                        "the local derivative of sin at x is cos(x), evaluated at the input's data.",
                        "v._make(math.sin(v.data), 'sin', [(v, math.cos(v.data))]).")
    return correct("One line of forward math, one local derivative: backward() does the rest.")


@checker
def linear_backward(fn):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(5, 3, generator=g, dtype=torch.float64)
    W = torch.randn(3, 4, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    dY = torch.randn(5, 4, generator=g, dtype=torch.float64)
    leaves = [v.clone().requires_grad_() for v in (X, W, b)]
    (leaves[0] @ leaves[1] + leaves[2]).backward(dY)
    with forbid(fn, *AUTOGRAD):
        out, err = attempt(fn, X.clone(), W.clone(), dY.clone())
    if err is not None:
        return err
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return hint("return three tensors: (dX, dW, db).")
    for name, got, leaf in zip(("dX", "dW", "db"), out, leaves):
        if not isinstance(got, torch.Tensor) or got.shape != leaf.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return hint(f"{name} must have the shape of {name[1:]}, {tuple(leaf.shape)}; got {shape}. "
                        "Let the shapes tell you which matrices to multiply, and in which order.")
        if not close(got, leaf.grad, tol=1e-8):
            return hint(f"{name} has the right shape but wrong values. Y = X W + b: each entry of {name[1:]} "
                        "touches Y through a product or a sum; follow it.",
                        f"{name} has the right shape but wrong values: write Y[n, m] = Σ_d X[n, d] W[d, m] + b[m] "
                        f"and differentiate with respect to one entry of {name[1:]}.",
                        "dX = dY Wᵀ, dW = Xᵀ dY, and db sums dY over the examples (dim 0).")
    return correct("dX = dY Wᵀ, dW = Xᵀ dY, db = Σ_n dY: every layer's backward is these three lines.")


@checker
def one_step_learning_rate(answer):
    eta, err = _number(answer)
    if err is not None:
        return err
    w = 7.0 - eta * 10 * (7.0 - 2)          # one step from w = 7 on E(w) = 5 (w − 2)², dE/dw = 10 (w − 2)
    if abs(w - 2) < 1e-6:
        return correct("η = 1/10 = 1/curvature: on a parabola, the Newton step. Above 2/10 it diverges.")
    if eta <= 0:
        return hint("a learning rate is positive: the minus sign in Δw = −η ∂E/∂w already points downhill.")
    recipe = "one step goes from w to w − η·10(w − 2); set that equal to 2 and solve for η."
    if eta >= 0.2:
        return hint(f"with η = {eta:g} the steps overshoot so far that gradient descent diverges (try the "
                    "2-D widget above with a large η).", recipe)
    if eta > 0.1:
        return hint(f"from w = 7 one step lands at {w:.3f}: it jumps past the minimum at 2. Smaller.", recipe)
    return hint(f"from w = 7 one step lands at {w:.3f}: not yet at the minimum at 2. Larger.", recipe)
