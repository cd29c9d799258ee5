"""Solutions for notebook 02 · Gradient descent and backprop (try the exercises first)."""

import math


def chain_rule(w, x, b, t, f, df):
    z = w * x + b                         # given
    y = f(z)                              # given
    return 2 * (y - t), df(z), x          # ∂L/∂y, ∂y/∂z (at z, not at y), ∂z/∂w


def value_sin(v):
    return v._make(math.sin(v.data), "sin", [(v, math.cos(v.data))])


def linear_backward(X, W, dY):            # Y = X Wᵀ + b, W of shape (out, in)
    return dY @ W, dY.T @ X, dY.sum(0)


def one_step_lr(p, q):
    return 1 / (2 * p)                     # 1 / E''(w): one step from any w lands on the minimum −q / (2p)


# found by trying rates ten times apart with each optimiser: momentum and Adam pass over a range, SGD barely
optimizer_race = dict(optimizer="Adam", lr=0.1)

SOLUTIONS = {
    "chain_rule": chain_rule,
    "value_sin": value_sin,
    "linear_backward": linear_backward,
    "one_step_lr": one_step_lr,
    "optimizer_race": optimizer_race,
}

# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "chain_rule": [(lambda w, x, b, t, f, df: (2 * (t - f(w * x + b)), df(w * x + b), x), "wrong sign"),
                   (lambda w, x, b, t, f, df: (f(w * x + b) - t, df(w * x + b), x), "half what it should be"),
                   (lambda w, x, b, t, f, df: (2 * (f(w * x + b) - t), df(f(w * x + b)), x), "evaluated df at y"),
                   (lambda w, x, b, t, f, df: (2 * (f(w * x + b) - t), df(w * x + b), w), "∂z/∂w is not right"),
                   (lambda w, x, b, t, f, df: (2 * (w * x + b - t), df(w * x + b), x), "∂L/∂y is not right",
                    "∂L/∂y = __ * (y - t)"),
                   (lambda w, x, b, t, f, df: 2 * (f(w * x + b) - t) * df(w * x + b) * x, "three numbers")],
    "value_sin": [(lambda v: math.sin(v.data), "return a Value"),
                  (lambda v: v._make(math.sin(v.data), "sin", []), "no gradient flows"),
                  (lambda v: v._make(math.sin(v.data), "sin", [(v, -math.cos(v.data))]), "wrong sign"),
                  (lambda v: v._make(math.cos(v.data), "sin", [(v, -math.sin(v.data))]), "forward value is wrong"),
                  (lambda v: v._make(math.sin(v.data), "sin", [(v, math.cos(1.0))]), "which point",
                   "[(v, __)]")],
    "linear_backward": [(lambda X, W, dY: (dY @ W.T, X.T @ dY, dY.sum(0)), "Write down the shapes"),
                        (lambda X, W, dY: (dY @ W, X.T @ dY, dY.sum(0)), "dW must have the shape"),
                        (lambda X, W, dY: (dY @ W, dY.T @ X, dY.sum(1)), "db must have the shape"),
                        (lambda X, W, dY: (dY @ W, dY.T @ X, dY.mean(0)), "right shape but wrong values",
                         "db = dY.sum(__)"),
                        (lambda X, W, dY: (dY @ W, dY.T @ X), "three tensors")],
    "one_step_lr": [(lambda p, q: 1 / p, "past"), (lambda p, q: 1 / (4 * p), "short of"),
                    (lambda p, q: 2 / p, "diverges", "η = 1 / (__ * __)"), (lambda p, q: -1 / (2 * p), "positive"),
                    (lambda p, q: 0.1, "the minimum")],
    "optimizer_race": [(dict(optimizer="SGD", lr=0.01), "not below 0.05"), (dict(optimizer="Adam", lr=10.0), "0.05"),
                       (dict(optimizer="momentum", lr=10.0), "overshoot"), (dict(optimizer="RMSprop", lr=0.01),
                                                                             "must be one of"),
                       (0.1, "two keys")],
}
