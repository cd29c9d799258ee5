"""Solutions for notebook 02 · Gradient descent and backprop (try the exercises first)."""

import math


def mse_grad(y, t):
    return 2 * (y - t) / len(y)


def value_sin(v):
    return v._make(math.sin(v.data), "sin", [(v, math.cos(v.data))])


def linear_backward(X, W, dY):
    return dY @ W.T, X.T @ dY, dY.sum(0)


SOLUTIONS = {
    "mse_grad": mse_grad,
    "chain_rule": -2.0,                 # z = 0, y = tanh(0) = 0: 2(0 − 0.5) · (1 − 0²) · 2
    "value_sin": value_sin,
    "linear_backward": linear_backward,
    "one_step_learning_rate": 0.1,      # 1 / (second derivative 10)
}

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "mse_grad": [(lambda y, t: 2 * (y - t), "divided by N"), (lambda y, t: (y - t) / len(y), "a factor is missing"),
                 (lambda y, t: 2 * (t - y) / len(y), "sign is flipped"),
                 (lambda y, t: ((y - t) ** 2).mean(), "one derivative per prediction"),
                 (lambda y, t: (2 * (y - t) / len(y)).sum(), "one derivative per prediction"),
                 (lambda y, t: 3 * (y - t) / len(y), "only one term", "2 * (y - t) / len(y)")],
    "chain_rule": [(2.0, "the sign is not"), (-1.0, "factor of 2 is missing", "∂z/∂w = x is 2"),
                   (0.0, "compute z and y", "z = 0.5·2 − 1 = 0"), ("minus two", "give one number")],
    "value_sin": [(lambda v: math.sin(v.data), "return a Value"),
                  (lambda v: v._make(math.sin(v.data), "sin", []), "no gradient flows",
                   "the input and its local derivative"),
                  (lambda v: v._make(math.sin(v.data), "sin", [(v, -math.cos(v.data))]), "wrong sign"),
                  (lambda v: v._make(math.cos(v.data), "sin", [(v, -math.sin(v.data))]), "forward value is wrong"),
                  (lambda v: v._make(math.sin(v.data), "sin", [(v, math.cos(1.0))]), "which point",
                   "math.cos(v.data)")],
    "linear_backward": [(lambda X, W, dY: (dY @ W, X.T @ dY, dY.sum(0)), "your function raised"),
                        (lambda X, W, dY: (dY @ W.T, X.T @ dY, dY.sum(1)), "db must have the shape of b"),
                        (lambda X, W, dY: (dY @ W.T, X.T @ dY, dY.mean(0)), "db has the right shape",
                         "sums dY over the examples"),
                        (lambda X, W, dY: (dY @ W.T, X.T @ dY), "three tensors")],
    "one_step_learning_rate": [(0.05, "Larger", "solve for η"), (0.15, "Smaller"), (0.5, "diverges"),
                               (-0.1, "positive"), (10.0, "diverges")],
}
