"""Solutions for notebook 01 · A single neuron (try the exercises first)."""

import torch


def leaky_relu(z):
    return torch.where(z > 0, z, 0.01 * z)


def boundary_x2(x1, w1, w2, b):
    return -(w1 * x1 + b) / w2


def accuracy(X, t, w, b):
    y = torch.sigmoid(X @ w + b)                  # (N,)
    return ((y > 0.5).long() == t).float().mean().item()


SOLUTIONS = {
    "leaky_relu": leaky_relu,
    "step_weights": (4.0, -8.0),                  # slope w/4 = 1, and z = 4·2 - 8 = 0 at x = 2
    "nand_weights": (-1.0, -1.0, 1.5),            # the AND neuron (1, 1, -1.5) with every sign flipped
    "boundary_x2": boundary_x2,
    "accuracy": accuracy,
}

WRONG = {
    "leaky_relu": [torch.relu, lambda z: z, lambda z: torch.where(z > 0, z, 0.1 * z),
                   lambda z: torch.where(z > 0, z, 0.01 * z).tolist()],
    "step_weights": [(1.0, -2.0), (4.0, 8.0), (2.0, -4.0), (4.0,), "4, -8"],
    "nand_weights": [(1.0, 1.0, -1.5), (-1.0, -1.0, 0.5), (1.0, 1.0, -0.5), (-1.0, -1.0)],
    "boundary_x2": [lambda x1, w1, w2, b: (w1 * x1 + b) / w2, lambda x1, w1, w2, b: -(w2 * x1 + b) / w1,
                    lambda x1, w1, w2, b: -w1 * x1 / w2],
    "accuracy": [lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() == t).sum().item(),
                 lambda X, t, w, b: ((torch.sigmoid(X @ w[:, None] + b) > 0.5).long() == t).float().mean(),
                 lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() != t).float().mean(),
                 lambda X, t, w, b: (torch.sigmoid(X @ w + b) > 0.5).long()],
}
