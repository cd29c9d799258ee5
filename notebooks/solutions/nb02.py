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

WRONG = {
    "mse_grad": [lambda y, t: 2 * (y - t), lambda y, t: (y - t) / len(y), lambda y, t: 2 * (t - y) / len(y),
                 lambda y, t: ((y - t) ** 2).mean(), lambda y, t: (2 * (y - t) / len(y)).sum()],
    "chain_rule": [2.0, -1.0, 0.0, "minus two"],
    "value_sin": [lambda v: math.sin(v.data), lambda v: v._make(math.sin(v.data), "sin", []),
                  lambda v: v._make(math.sin(v.data), "sin", [(v, -math.cos(v.data))]),
                  lambda v: v._make(math.cos(v.data), "sin", [(v, -math.sin(v.data))]),
                  lambda v: v._make(math.sin(v.data), "sin", [(v, math.cos(1.0))])],
    "linear_backward": [lambda X, W, dY: (dY @ W, X.T @ dY, dY.sum(0)),
                        lambda X, W, dY: (dY @ W.T, X.T @ dY, dY.sum(1)),
                        lambda X, W, dY: (dY @ W.T, X.T @ dY, dY.mean(0)),
                        lambda X, W, dY: (dY @ W.T, X.T @ dY)],
    "one_step_learning_rate": [0.05, 0.15, 0.5, -0.1, 10.0],
}
