"""lmutils.toy data sets and the notebook 01-02 plot helpers (plot_decision, draw_neuron)."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

from lmutils import toy
from lmutils.course.plot import draw_neuron, plot_decision

matplotlib.use("Agg")


def test_blobs_are_balanced_repeatable_and_separable():
    X, t = toy.blobs(100, seed=1)
    assert X.shape == (100, 2) and X.dtype == torch.float32 and t.dtype == torch.long
    assert t.sum() == 50
    assert torch.equal(X, toy.blobs(100, seed=1)[0]) and not torch.equal(X, toy.blobs(100, seed=2)[0])
    # the line through the midpoint, perpendicular to the two centres, separates them mostly
    w = torch.tensor([2.5, 2.0])
    acc = (((X @ w - w @ torch.tensor([0.25, 0.5])) > 0).long() == t).float().mean()
    assert acc > 0.9


def test_xor_blobs_labels_follow_the_quadrants():
    X, t = toy.xor_blobs(400, std=0.2)
    assert X.shape == (400, 2) and t.sum() == 200
    assert ((X[:, 0] * X[:, 1] < 0).long() == t).float().mean() > 0.98


def test_logic_gates():
    X, t = toy.logic_gate("xor")
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and t.tolist() == [0, 1, 1, 0]
    assert toy.logic_gate("and")[1].tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="unknown gate 'xnor'.*and, or, nand, xor"):
        toy.logic_gate("xnor")


@pytest.mark.parametrize("n", [0, 3, 2.0, -4])
def test_bad_sizes(n):
    with pytest.raises(ValueError, match="multiple of 4"):
        toy.xor_blobs(n)


def test_plot_decision_returns_accuracy_and_draws_the_boundary():
    X, t = toy.blobs(40)
    fig, ax = plt.subplots()
    perfect = plot_decision(ax, lambda P: (P @ torch.tensor([1.0, 1.0]) > 0.75).float(), X, t, lim=(-4, 4), res=50)
    expected = (((X @ torch.tensor([1.0, 1.0]) > 0.75).long() == t).float().mean().item())
    assert perfect == pytest.approx(expected)
    assert len(ax.collections) >= 3  # filled contours, the boundary, the points
    assert plot_decision(ax, lambda P: torch.ones(len(P)), X, t, colorbar=False) == 0.5
    plt.close(fig)


def test_draw_neuron_labels_its_weights():
    fig, ax = plt.subplots()
    draw_neuron(ax, weights=("w_1", "w_2"), bias="b", f="\\sigma")
    texts = [t.get_text() for t in ax.texts]
    assert "$w_1$" in texts and "$w_2$" in texts and "$x_2$" in texts and "$b$" in texts
    assert not any("x_3" in t for t in texts)
    plt.close(fig)
