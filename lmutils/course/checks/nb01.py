"""Checkers for notebook 01 · A single neuron."""

import torch
import torch.nn.functional as F

from . import attempt, checker, close, correct, forbid, hint, placeholder, unanswered


def _numbers(answer, n, what):
    """answer as n floats, or (None, Feedback)."""
    if unanswered(answer):
        return None, placeholder()
    try:
        values = [float(v) for v in answer]
    except (TypeError, ValueError):
        return None, hint(f"give {what} as {n} numbers in parentheses, e.g. {tuple(range(1, n + 1))}.")
    if len(values) != n:
        return None, hint(f"give exactly {n} numbers: {what}.")
    return values, None


@checker
def leaky_relu(fn):
    z = torch.linspace(-3, 3, 13)
    with forbid(fn, "torch.nn.functional.leaky_relu", "torch.nn.functional.leaky_relu_"):
        out, err = attempt(fn, z.clone())
    if err is not None:
        return err
    if not isinstance(out, torch.Tensor) or out.shape != z.shape:
        return hint("return a tensor with the same shape as z.",
                    "return a tensor with the same shape as z: torch.where(condition, a, b) works element by element.")
    if close(out, F.leaky_relu(z, 0.01)):
        return correct("For z < 0 the slope is 0.01 instead of 0, so the unit can still learn.")
    if close(out, torch.relu(z)):
        return hint("that is the plain ReLU: what should a leaky unit output for negative z?",
                    "that is the plain ReLU: for z <= 0 the output should be 0.01·z, not 0.")
    if not close(out[z > 0], z[z > 0]):
        return hint("look at the positive inputs first: what does the unit output there?",
                    "for z > 0 the output is z itself.")
    return hint("the positive side is right; look at the negative side: how steep is it?",
                "for z <= 0 the output is 0.01·z (small and negative).",
                "torch.where(z > 0, z, 0.01 * z): z where it is positive, 0.01·z elsewhere.")


@checker
def step_weights(answer):
    values, err = _numbers(answer, 2, "(w, b)")
    if err is not None:
        return err
    w, b = values
    x = torch.tensor(2.0, requires_grad=True)
    y = torch.sigmoid(w * x + b)
    y.backward()
    at_half, slope = abs(y.item() - 0.5) < 1e-4, x.grad.item()
    if at_half and abs(slope - 1) < 1e-4:
        return correct("The slope at the step is w·σ'(0) = w/4, so w = 4, and z = 0 at x = -b/w = 2.")
    if not at_half:
        return hint(f"at x = 2 your neuron outputs {y.item():.3f}, not 0.5: what must z be for σ(z) = 0.5?",
                    f"at x = 2 your neuron outputs {y.item():.3f}, not 0.5: z = w·2 + b must be 0 there.",
                    "z = w·2 + b = 0 puts the step at x = 2, and the slope there is w·σ'(0) = w/4: "
                    "choose w for the slope, then b = −2w.")
    return hint(f"the step is in the right place, but the slope there is {slope:.3f}: which parameter sets "
                "the steepness?",
                f"the step is in the right place, but the slope there is {slope:.3f}; it is w·σ'(0).",
                "the slope at the step is w·σ'(0) = w/4: set w so that w/4 = 1, then b = −2w.")


@checker
def nand_weights(answer):
    values, err = _numbers(answer, 3, "(w1, w2, b)")
    if err is not None:
        return err
    w1, w2, b = values
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    fires = (torch.sigmoid(w1 * X[:, 0] + w2 * X[:, 1] + b) > 0.5).long().tolist()
    if fires == [1, 1, 1, 0]:
        return correct("NAND is NOT AND: the AND neuron with all three signs flipped.")
    if fires == [0, 0, 0, 1]:
        return hint("that neuron computes AND: NAND is its opposite everywhere.",
                    "that neuron computes AND: NAND is its opposite everywhere. What happens to z when you "
                    "flip the sign of every weight and of b?")
    wrong = [f"({a:.0f}, {c:.0f})" for (a, c), f, e in zip(X.tolist(), fires, [1, 1, 1, 0]) if f != e]
    return hint(f"your neuron is wrong on input {', '.join(wrong)}; it must fire (z > 0) unless both inputs are 1.",
                f"your neuron is wrong on input {', '.join(wrong)}. Start from the AND weights above: NAND "
                "fires exactly where AND does not.",
                "flipping the sign of w1, w2 and b flips the sign of z, so the AND neuron with every sign "
                "flipped computes NAND.")


@checker
def boundary_x2(fn):
    cases = [(0.5, 1.0, 1.0, -0.5), (2.0, -1.0, 2.0, 1.0), (-1.5, 3.0, -0.5, 2.0), (0.0, 1.0, 4.0, 2.0)]
    for x1, w1, w2, b in cases:
        out, err = attempt(fn, x1, w1, w2, b)
        if err is not None:
            return err
        if not close(out, -(w1 * x1 + b) / w2):
            return hint(f"for x1={x1}, w1={w1}, w2={w2}, b={b} you return {out!r}; check that the point "
                        "(x1, x2) then satisfies w1·x1 + w2·x2 + b = 0.",
                        f"for x1={x1}, w1={w1}, w2={w2}, b={b} you return {out!r}. Move everything but "
                        "w2·x2 to the other side of the equation (mind the sign), then divide.",
                        "w2·x2 = −(w1·x1 + b), so x2 = −(w1·x1 + b) / w2.")
    return correct("x2 = -(w1·x1 + b) / w2: a line with slope -w1/w2.")


@checker
def accuracy(fn):
    """accuracy(X, t, w, b) for w of shape (2,) and, the trap shown above, a column (2, 1)."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(30, 2, generator=g)
    t = (X[:, 0] + 0.5 * torch.randn(30, generator=g) > 0).long()
    w, b = torch.tensor([1.5, -0.5]), 0.2
    expected = ((torch.sigmoid(X @ w + b) > 0.5).long() == t).float().mean().item()
    for weights in (w, w[:, None]):
        out, err = attempt(fn, X.clone(), t.clone(), weights.clone(), b)
        if err is not None:
            return err
        if isinstance(out, torch.Tensor) and out.numel() != 1:
            return hint(f"return one number, not a tensor of shape {tuple(out.shape)}.")
        if close(out, expected):
            continue
        if weights.dim() == 2:
            return hint("right for w of shape (2,), wrong for a column w of shape (2, 1): look at the shape "
                        "of σ(X w + b) then, and at what == does with shapes (N, 1) and (N,).",
                        "with w of shape (2, 1) the outputs are (N, 1), and comparing them with t (N,) "
                        "broadcasts to (N, N). Make the outputs (N,) before comparing: w.reshape(-1) or "
                        ".squeeze(1).")
        if close(out, expected * len(t)):
            return hint("that is the number of correct points: divide by the number of points.")
        if close(out, 1 - expected):
            return hint("that is the fraction of mistakes: count the points where prediction == t.")
        return hint("compute the predictions (0 or 1) first, compare them with t, then turn the matches "
                    "into a fraction. Print each intermediate shape.",
                    "predict 1 where σ(X @ w + b) > 0.5, compare with t, take the mean of the matches "
                    "(as floats). Check each intermediate shape is (N,).")
    return correct("and it survives a weight column (2, 1), the broadcasting trap above.")
