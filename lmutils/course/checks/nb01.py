"""Checkers for notebook 01 · A single neuron."""

import torch

from ...toy import blobs
from ..i18n import _
from . import (attempt, call, checker, close, correct, forbid, hint, integer, number, placeholder, rng, unanswered,
               uniform)
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

LEAKY = ("leaky_relu", "rrelu", "prelu")  # PyTorch's own leaky units, by any route (F, nn, torch._C._nn, aten)


@checker
def leaky_relu(fn):
    """leaky_relu(z) = z for z > 0, 0.01·z otherwise, element by element, for a tensor of any shape."""
    shapes = [(integer(5, 20),), (integer(2, 5), integer(3, 9)), (2, integer(2, 4), integer(2, 6))]
    for shape in shapes:
        z = 3 * torch.randn(shape, generator=rng())
        z.view(-1)[::4] = 0.0                                   # exact zeros: the corner of the function
        with forbid(fn, ops=LEAKY):
            out, err = attempt(fn, z.clone())
        if err is not None:
            return err
        if not torch.is_tensor(out) or out.shape != z.shape:
            return hint(_("for z of shape {shape} return a tensor of the same shape (element by element).",
                          shape=tuple(z.shape)))
        if close(out, torch.where(z > 0, z, 0.01 * z)):
            continue
        neg, pos = z < 0, z > 0
        if close(out, torch.relu(z)):
            return hint(_("that is the plain ReLU: what should a leaky unit output for negative z?"),
                        _("that is the plain ReLU: for z ≤ 0 the output is 0.01·z (small and negative), not 0."),
                        _("torch.where(z > 0, __, __): one value where z is positive, another elsewhere."))
        if not close(out[pos], z[pos]):
            return hint(_("look at the positive inputs first: what does the unit output there?"),
                        _("for z > 0 the output is z itself, as for the ReLU."),
                        _("torch.where(z > 0, __, __): one value where z is positive, another elsewhere."))
        slope = (out[neg] / z[neg]).mean().item()
        return hint(_("the positive side is right; look at the negative side: how steep is it?"),
                    _("for z < 0 your unit has slope {slope:.3g}; the exercise asks for 0.01.", slope=slope),
                    _("torch.where(z > 0, __, __): the second blank is 0.01 times something."))
    return correct(_("for z < 0 the slope is 0.01 instead of 0, so the unit can still learn."))


@checker
def step_weights(fn):
    """step_weights(x0, slope) = (w, b): σ(w·x + b) is 0.5 at x = x0 and has the given slope there."""
    cases = [(uniform(-4, 4), uniform(0.2, 3)) for _i in range(3)] + [(0.0, uniform(0.2, 3)),
                                                                    (uniform(-4, 4), -uniform(0.2, 3))]
    for x0, slope in cases:
        got, err = attempt(fn, x0, slope)
        if err is not None:
            return err
        try:
            w, b = (number(v) for v in got)
        except (TypeError, ValueError):
            return hint(_("return two numbers, (w, b)."))
        if w is None or b is None:
            return hint(_("return two numbers, (w, b)."))
        x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        y = torch.sigmoid(w * x + b)
        y.backward()
        at_half, got_slope = abs(y.item() - 0.5) < 1e-6, x.grad.item()
        if at_half and abs(got_slope - slope) < 1e-6:
            continue
        where = _("for x0 = {x0:.3g} and slope {slope:.3g}", x0=x0, slope=slope)
        if w == 0:
            return hint(_("{where} your w is 0: then the output does not depend on x at all.", where=where))
        step_at = -b / w
        if not at_half:
            return hint(_("{where} your neuron crosses 0.5 at x = {step:.3g}, not at x0: where is z = w·x + b "
                          "zero?", where=where, step=step_at),
                        _("{where} your neuron crosses 0.5 at x = {step:.3g}: z = w·x + b is 0 at x = −b/w, and "
                          "that must be x0.", where=where, step=step_at),
                        _("b = -__ * __: the step is where z = 0."))
        return hint(_("{where} the step is in the right place, but its slope is {got:.3g}: which parameter "
                      "sets the steepness?", where=where, got=got_slope),
                    _("{where} the slope at the step is {got:.3g}; it is w·σ'(0), and σ'(0) = 1/4.", where=where,
                      got=got_slope),
                    _("w = __ * slope, then b from the place of the step."))
    return correct(_("the slope at the step is w·σ'(0) = w/4, and z = 0 at x = −b/w: w sets the steepness, b "
                     "the place."))


class _Neuron:
    """neuron(x1, x2, w1, w2, b) = σ(w1·x1 + w2·x2 + b), recording every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, x1, x2, w1, w2, b):
        weights = [number(v) for v in (w1, w2, b)]
        if any(v is None for v in weights):
            raise TypeError(_("the weights w1, w2 and b of a neuron are numbers, the same for every input"))
        out = torch.sigmoid(weights[0] * x1 + weights[1] * x2 + weights[2])
        self.calls.append((x1, x2, weights, out))
        return out


def _gate(table):
    names = {(0, 0, 0, 1): "AND", (0, 1, 1, 1): "OR", (1, 1, 1, 0): "NAND", (1, 0, 0, 0): "NOR",
             (0, 1, 1, 0): "XOR", (1, 0, 0, 1): "XNOR"}
    return names.get(tuple(table), _("the gate {table}", table=tuple(table)))


@checker
def xor_network(fn):
    """xor(x1, x2, neuron) = XOR of x1 and x2 (tensors of inputs near 0 or 1), wired from exactly three calls of
    neuron(x1, x2, w1, w2, b) = σ(w1·x1 + w2·x2 + b): two neurons read the inputs, the third reads their outputs."""
    corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).repeat(50, 1)
    X = corners + 0.2 * torch.rand(corners.shape, generator=rng()) - 0.1  # noisy inputs, ±0.1
    want = (corners[:, 0] != corners[:, 1]).long()
    neuron = _Neuron()
    if unanswered(fn):
        return placeholder()
    got, err = call(fn, X[:, 0], X[:, 1], neuron)
    if err is not None:
        return err
    if unanswered(got):
        return placeholder(_("your function still returns `...`: write its body."))
    if len(neuron.calls) != 3:
        return hint(_("your function called neuron {n} time(s): XOR needs exactly three neurons, two that read "
                      "x1 and x2 and one that reads their outputs.", n=len(neuron.calls)))
    (a1, a2, _w, h1), (b1, b2, _v, h2), (c1, c2, _u, out) = neuron.calls
    if not all(torch.is_tensor(v) and torch.equal(v, x) for v, x in [(a1, X[:, 0]), (a2, X[:, 1]),
                                                                     (b1, X[:, 0]), (b2, X[:, 1])]):
        return hint(_("the first two neurons should each read the inputs (x1, x2) as they are."))
    hidden = [(c1, c2), (c2, c1)]
    if not any(torch.is_tensor(u) and torch.is_tensor(v) and torch.equal(u, h1) and torch.equal(v, h2)
               for u, v in hidden) or not (torch.is_tensor(got) and torch.equal(got, out)):
        return hint(_("the third neuron should read the outputs of the first two, and your function should "
                      "return its output."))
    fires = (got > 0.5).long()
    if torch.equal(fires, want):
        return correct(_("OR and NAND, combined by AND: two lines, and a neuron that keeps what lies between "
                         "them. Notebook 02 lets a network find such weights by itself."))
    clean = _Neuron()
    call(fn, corners[:4, 0], corners[:4, 1], clean)
    if len(clean.calls) != 3:
        return hint(_("your network computes XOR only on some inputs: build it from three neurons."))
    tables = [(c[3] > 0.5).long().tolist() for c in clean.calls]
    wrong = [f"({int(a)}, {int(c)})" for (a, c), f, e in zip(corners[:4].tolist(), tables[2], want[:4].tolist())
             if f != e]
    gates = {_gate(tables[0]), _gate(tables[1])}
    soft = min((clean.calls[k][3] - 0.5).abs().min().item() for k in (0, 1)) < 0.3
    if soft and (not wrong or gates == {"OR", "NAND"}):
        return hint(_("the hidden neurons output numbers near 0.5 (e.g. {h:.2f} on input (0, 1)), and the next "
                      "neuron or the noise tips them: make every neuron sharper.", h=clean.calls[0][3][1].item()),
                    _("multiply a neuron's weights and its bias by the same factor (say 10): its line stays, its "
                      "output gets close to 0 or 1."))
    if not wrong:
        return hint(_("on clean inputs your network is right, but noise of ±0.1 on the inputs tips it: give "
                      "each neuron a margin (its z far from 0 at every corner)."))
    if gates == {"OR", "NAND"}:
        return hint(_("your hidden neurons compute OR and NAND, as they should; on the corners {wrong} the third "
                      "neuron is wrong: it must fire only where both hidden neurons do.", wrong=", ".join(wrong)),
                    _("the third neuron computes AND of the hidden outputs: look at the AND weights above."))
    first, second = _gate(tables[0]), _gate(tables[1])
    return hint(_("on the corners {wrong} your network is wrong: which two gates must the hidden neurons "
                  "compute, so that one more neuron can combine them into XOR?", wrong=", ".join(wrong)),
                _("your hidden neurons compute {first} and {second}. XOR is 1 where OR is 1 and NAND is 1: the "
                  "first two neurons compute OR and NAND, the third AND of their outputs.", first=first,
                  second=second),
                _("h1 = neuron(x1, x2, 10, 10, __) (OR), h2 = neuron(x1, x2, __, __, __) (NAND: the AND neuron "
                  "with every sign flipped), then neuron(h1, h2, __, __, __) (AND)."))


@checker
def accuracy(fn):
    """accuracy(X, t, w, b) for w of shape (2,) and, the trap shown above, a column (2, 1)."""
    for _case in range(3):
        n = integer(20, 60)
        X = 2 * torch.randn(n, 2, generator=rng())
        t = (X[:, 0] - X[:, 1] + torch.randn(n, generator=rng()) > 0).long()
        w, b = torch.randn(2, generator=rng()), uniform(-1, 1)
        expected = ((torch.sigmoid(X @ w + b) > 0.5).long() == t).float().mean().item()
        for weights in (w, w[:, None]):
            with forbid(fn, "lmutils.course.plot.plot_decision"):
                out, err = attempt(fn, X.clone(), t.clone(), weights.clone(), b)
            if err is not None:
                return err
            if torch.is_tensor(out) and out.numel() != 1:
                return hint(_("return one number, not a tensor of shape {shape}.", shape=tuple(out.shape)))
            value = number(out)
            if value is None:
                return hint(_("return one number (a fraction between 0 and 1), got {kind}.",
                              kind=type(out).__name__))
            if abs(value - expected) < 1e-6:
                continue
            if weights.dim() == 2:
                return hint(_("right for w of shape (2,), wrong for a column w of shape (2, 1): look at the shape "
                              "of σ(X w + b) then, and at what == does with shapes (N, 1) and (N,)."),
                            _("with w of shape (2, 1) the outputs are (N, 1), and comparing them with t (N,) "
                              "broadcasts to (N, N) (the trap above). Make the outputs (N,) before comparing."),
                            _("y = torch.sigmoid(X @ w.__(-1) + b): one output per point, whatever the shape of w."))
            if abs(value - expected * n) < 1e-6:
                return hint(_("that is the number of correct points ({value:g} of {n}): divide by the number of "
                              "points.", value=value, n=n))
            if abs(value - (1 - expected)) < 1e-6:
                return hint(_("that is the fraction of mistakes: count the points where the prediction equals t."))
            return hint(_("compute the predictions (0 or 1) first, compare them with t, then turn the matches "
                          "into a fraction. Print each intermediate shape."),
                        _("predict 1 where σ(X w + b) > 0.5 (here {n} points; you return {value:.4g}, the right "
                          "fraction is a multiple of 1/{n}).", n=n, value=value),
                        _("((torch.sigmoid(__) > 0.5).long() == t).float().__()"))
    return correct(_("and it survives a weight column (2, 1), the broadcasting trap above."))


@checker
def new_points(weights):
    """Experiment: (w1, w2, b) found with the boundary widget; the line must classify at least 95 % of 2,000 new
    points from the same two clouds correctly."""
    if unanswered(weights):
        return placeholder()
    try:
        w1, w2, b = (float(v) for v in weights)
    except (TypeError, ValueError):
        return hint(_("give your three numbers in parentheses, (w1, w2, b), as read from the widget."))
    seed = integer(1, 10 ** 6)
    X_new, t_new = blobs(2000, seed=seed)          # the same clouds, points the widget never showed
    X_old, t_old = blobs(100)                      # the widget's points
    def acc(X, t):
        return ((w1 * X[:, 0] + w2 * X[:, 1] + b > 0).long() == t).float().mean().item()
    old, new = acc(X_old, t_old), acc(X_new, t_new)
    if new >= 0.95:
        return correct(_("{old:.0%} on the widget's 100 points, {new:.1%} on 2,000 new ones: a line that fits the "
                         "clouds, not only the points you saw.", old=old, new=new))
    if new < 0.5:
        return hint(_("on new points your line is right on {new:.1%}: less than a coin. Are the classes the "
                      "wrong way round? Flip all three signs.", new=new))
    return hint(_("your line gets {old:.0%} of the widget's points and {new:.1%} of 2,000 new points from the "
                  "same clouds: move it in the widget until it separates the clouds themselves.", old=old, new=new),
                _("{old:.0%} on the widget's points, {new:.1%} on new ones: the line that separates two clouds best "
                  "runs between their centres, perpendicular to the line joining them.", old=old, new=new))
