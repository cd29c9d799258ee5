"""Exercise checkers. Each notebook has a module here (nb01, nb02, …) with one checker per exercise:

    from lmutils.course.checks import nb01 as check
    check.sigmoid(my_sigmoid)       # ✅ Correct! …  or  ❌ Not yet: <a hint, never the answer>

A checker never raises on a wrong answer (the notebook must run top to bottom with the exercise
unsolved); it returns a Feedback, which prints itself and is truthy when correct.
Solutions live apart, in notebooks/solutions/nbNN.py.
"""

import math

import torch


class Feedback:
    def __init__(self, ok: bool, message: str = ""):
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok:
            return "✅ Correct!" + (f" {self.message}" if self.message else "")
        return f"❌ Not yet: {self.message}"


def correct(message: str = "") -> Feedback:
    return Feedback(True, message)


def hint(message: str) -> Feedback:
    return Feedback(False, message)


def unanswered(answer) -> bool:
    """True for the placeholders an exercise starts with (..., None, NotImplemented)."""
    return answer is Ellipsis or answer is None or answer is NotImplemented


PLACEHOLDER_HINT = "replace the `...` with your answer, then run the cell again."


def call(fn, *args, **kwargs):
    """Run the student's function; returns (result, None) or (None, Feedback explaining the exception)."""
    if not callable(fn):
        return None, hint(f"expected a function, got {type(fn).__name__}.")
    try:
        return fn(*args, **kwargs), None
    except Exception as err:  # the student's code, any error: turn it into a hint
        return None, hint(f"your function raised {type(err).__name__}: {err}")


def attempt(fn, *args, **kwargs):
    """Run the student's function: (result, None), or (None, Feedback) when it is still a placeholder,
    raises, or returns `...`."""
    if unanswered(fn):
        return None, hint(PLACEHOLDER_HINT)
    out, err = call(fn, *args, **kwargs)
    if err is None and unanswered(out):
        return None, hint("your function still returns `...`: write its body.")
    return out, err


def close(got, expected, tol: float = 1e-4) -> bool:
    """Numbers, sequences or tensors equal within tol (relative or absolute)."""
    try:
        got_t = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    exp_t = torch.as_tensor(expected, dtype=torch.float64)
    if got_t.shape != exp_t.shape:
        return False
    return bool(torch.allclose(got_t, exp_t, rtol=tol, atol=tol, equal_nan=False)) and not math.isnan(got_t.sum().item())
