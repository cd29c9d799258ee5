"""Solutions for notebook 01 · A single neuron (try the exercises first)."""

import torch


def leaky_relu(z):
    return torch.where(z > 0, z, 0.01 * z)


def step_weights(x0, slope):
    w = 4 * slope                  # the slope at the step is w·σ'(0) = w/4
    return w, -w * x0              # z = w·x + b is 0 at x = x0


def xor(x1, x2, neuron):
    h_or = neuron(x1, x2, 10.0, 10.0, -5.0)            # OR, sharpened ×10 so that noise cannot tip it
    h_nand = neuron(x1, x2, -10.0, -10.0, 15.0)        # NAND: the AND neuron with every sign flipped
    return neuron(h_or, h_nand, 10.0, 10.0, -15.0)     # AND of the two: exactly one input is 1


def accuracy(X, t, w, b):
    y = torch.sigmoid(X @ w.reshape(-1) + b)           # (N,), whether w is (2,) or a column (2, 1)
    return ((y > 0.5).long() == t).float().mean().item()


# found with the widget: w along the line from one cloud's centre to the other's, the line half-way between them
new_points = (2.5, 2.0, -1.6)

SOLUTIONS = {
    "leaky_relu": leaky_relu,
    "step_weights": step_weights,
    "xor_network": xor,
    "accuracy": accuracy,
    "new_points": new_points,
}


# --- typical wrong answers ----------------------------------------------------------------------------

def _soft_xor(x1, x2, neuron):      # the right gates at the notebook's scale: too soft for noisy inputs
    return neuron(neuron(x1, x2, 1.0, 1.0, -0.5), neuron(x1, x2, -1.0, -1.0, 1.5), 1.0, 1.0, -1.5)


def _or_and_xor(x1, x2, neuron):    # OR and AND as hidden neurons, then AND
    return neuron(neuron(x1, x2, 10.0, 10.0, -5.0), neuron(x1, x2, 10.0, 10.0, -15.0), 10.0, 10.0, -15.0)


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "leaky_relu": [(torch.relu, "plain ReLU", "torch.where(z > 0, __, __)"), (lambda z: z, "negative side"),
                   (lambda z: torch.where(z > 0, z, 0.1 * z), "how steep", "0.01 times something"),
                   (lambda z: torch.where(z > 0, z, 0.01 * z).tolist(), "same shape")],
    "step_weights": [(lambda x0, s: (s, -s * x0), "which parameter", "w = __ * slope"),
                     (lambda x0, s: (4 * s, 4 * s * x0), "crosses 0.5", "b = -__ * __"),
                     (lambda x0, s: (4 * s, -x0), "crosses 0.5"),
                     (lambda x0, s: 4 * s, "two numbers")],
    "xor_network": [(_soft_xor, "sharper"), (_or_and_xor, "which two gates", "every sign flipped"),
                    (lambda x1, x2, neuron: neuron(x1, x2, 10.0, 10.0, -5.0), "called neuron 1 time"),
                    (lambda x1, x2, neuron: (x1.round() != x2.round()).float(), "called neuron 0 time")],
    "accuracy": [(lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() == t).sum().item(), "number of correct"),
                 (lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() == t).float().mean(),  # the trap
                  "column w of shape (2, 1)", "X @ w.__(-1)"),
                 (lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() != t).float().mean(), "mistakes"),
                 (lambda X, t, w, b: (torch.sigmoid(X @ w + b) > 0.5).long(), "one number"),
                 (lambda X, t, w, b: (torch.sigmoid(X @ w.reshape(-1) + b) > 0.6).float().mean(), "predictions",
                  "(torch.sigmoid(__) > 0.5)")],
    "new_points": [((1.0, 0.3, 0.5), "move it in the widget"), ((-2.5, -2.0, 1.6), "Flip all three signs"),
                   ((1.0, 0.0, 3.0), "move it in the widget"), ((1.0, 2.0), "three numbers")],
}
