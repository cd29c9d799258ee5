"""Solutions for notebook 01 · A single neuron (try the exercises first)."""

import torch


def leaky_relu(z):
    return torch.where(z > 0, z, 0.01 * z)


def boundary_x2(x1, w1, w2, b):
    return -(w1 * x1 + b) / w2


def accuracy(X, t, w, b):
    y = torch.sigmoid(X @ w.reshape(-1) + b)      # (N,), whether w is (2,) or a column (2, 1)
    return ((y > 0.5).long() == t).float().mean().item()


SOLUTIONS = {
    "leaky_relu": leaky_relu,
    "step_weights": (4.0, -8.0),                  # slope w/4 = 1, and z = 4·2 - 8 = 0 at x = 2
    "nand_weights": (-1.0, -1.0, 1.5),            # the AND neuron (1, 1, -1.5) with every sign flipped
    "boundary_x2": boundary_x2,
    "accuracy": accuracy,
}

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "leaky_relu": [(torch.relu, "plain ReLU"), (lambda z: z, "negative side"),
                   (lambda z: torch.where(z > 0, z, 0.1 * z), "how steep", "torch.where(z > 0, z, 0.01 * z)"),
                   (lambda z: torch.where(z > 0, z, 0.01 * z).tolist(), "same shape as z")],
    "step_weights": [((1.0, -2.0), "which parameter sets the steepness", "w/4 = 1"), ((4.0, 8.0), "not 0.5"),
                     ((2.0, -4.0), "slope there is 0.500"), ((4.0,), "exactly 2 numbers"),
                     ("4, -8", "2 numbers in parentheses")],
    "nand_weights": [((1.0, 1.0, -1.5), "computes AND"), ((-1.0, -1.0, 0.5), "wrong on input (0, 1), (1, 0)"),
                     ((1.0, 1.0, -0.5), "wrong on input", "every sign"), ((-1.0, -1.0), "exactly 3 numbers")],
    "boundary_x2": [(lambda x1, w1, w2, b: (w1 * x1 + b) / w2, "satisfies w1·x1 + w2·x2 + b = 0",
                     "x2 = −(w1·x1 + b) / w2"),
                    (lambda x1, w1, w2, b: -(w2 * x1 + b) / w1, "satisfies"),
                    (lambda x1, w1, w2, b: -w1 * x1 / w2, "satisfies")],
    "accuracy": [(lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() == t).sum().item(), "number of correct"),
                 (lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() == t).float().mean(),  # the trap
                  "column w of shape (2, 1)", "reshape(-1)"),
                 (lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() != t).float().mean(), "mistakes"),
                 (lambda X, t, w, b: (torch.sigmoid(X @ w + b) > 0.5).long(), "one number"),
                 (lambda X, t, w, b: (torch.sigmoid(X @ w.reshape(-1) + b) > 0.6).float().mean(), "predictions",
                  "σ(X @ w + b) > 0.5")],
}
