"""Exercise checkers. Each notebook has a module here (nb01, nb02, …) with one checker per exercise:

    from lmutils.course.checks import nb01 as check
    check.sigmoid(my_sigmoid)       # ✅ Correct! …  or  ❌ Not yet: <a hint, never the answer>

A checker never raises on a wrong answer (the notebook must run top to bottom with the exercise
unsolved); it returns a Feedback, which prints itself and is truthy when correct.
Solutions live apart, in notebooks/solutions/nbNN.py.

Every checker is wrapped by @checker, which
- leaves the student's random number generators as they were (torch.random.fork_rng),
- counts the wrong tries of each exercise, so that hint(nudge, more, recipe) gives a nudge first and the
  whole recipe only after repeated wrong tries,
- and turns an unexpected error into a hint instead of an exception.
The student's results come back to the CPU (call, attempt), so answers computed on a GPU are accepted;
forbid() makes the library's or PyTorch's own answer unavailable while the student's function runs.
"""

import functools
import importlib
import math
import sys
from contextlib import ExitStack, contextmanager

import torch


class Feedback:
    def __init__(self, ok: bool, message: str = "", counts: bool = True):
        self.ok, self.message, self.counts = ok, message, counts  # counts: a wrong try (not a placeholder)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok:
            return "✅ Correct!" + (f" {self.message}" if self.message else "")
        return f"❌ Not yet: {self.message}"


def correct(message: str = "") -> Feedback:
    return Feedback(True, message)


_tries: dict[str, int] = {}   # checker → wrong tries so far (this session)
_running: list[str] = []      # the checkers running now (innermost last)


def tries() -> int:
    """How many wrong tries the running checker has had before this one."""
    return _tries.get(_running[-1], 0) if _running else 0


def reset_tries() -> None:
    _tries.clear()


def hint(*levels: str) -> Feedback:
    """A hint that says more the more often this exercise was answered wrong: levels[0] on the first wrong
    try (a nudge), levels[1] on the second, …; the last level (the recipe) repeats from then on."""
    return Feedback(False, levels[min(tries(), len(levels) - 1)])


PLACEHOLDER_HINT = "replace the `...` with your answer, then run the cell again."


def placeholder(message: str = PLACEHOLDER_HINT) -> Feedback:
    """The exercise is not answered yet: not counted as a wrong try."""
    return Feedback(False, message, counts=False)


def checker(fn):
    """Decorates an exercise checker: see the module's docstring."""
    key = f"{fn.__module__}.{fn.__name__}"

    @functools.wraps(fn)
    def check(answer):
        _running.append(key)
        try:
            with torch.random.fork_rng():
                feedback = fn(answer)
        except Exception as err:  # an answer of a shape no one foresaw: a hint, never a crash
            feedback = Feedback(False, f"your answer could not be checked ({type(err).__name__}: {err}); "
                                       "read the exercise again for what to return.")
        finally:
            _running.pop()
        if not feedback.ok and feedback.counts:
            _tries[key] = _tries.get(key, 0) + 1
        return feedback

    return check


def unanswered(answer) -> bool:
    """True for the placeholders an exercise starts with (..., None, NotImplemented)."""
    return answer is Ellipsis or answer is None or answer is NotImplemented


def to_cpu(x):
    """The student's result with every tensor in it detached and on the CPU (it may come from a GPU)."""
    if torch.is_tensor(x):
        return x.detach().cpu()
    if isinstance(x, (tuple, list)):
        return (list if isinstance(x, list) else tuple)(to_cpu(v) for v in x)
    return x


class Forbidden(Exception):
    """Raised when the student's function calls what the exercise asks to write."""


def call(fn, *args, **kwargs):
    """Run the student's function; returns (result on the CPU, None) or (None, Feedback explaining the
    exception)."""
    if not callable(fn):
        return None, hint(f"expected a function, got {type(fn).__name__}.")
    try:
        return to_cpu(fn(*args, **kwargs)), None
    except Forbidden as err:
        return None, hint(str(err))
    except Exception as err:  # the student's code, any error: turn it into a hint
        return None, hint(f"your function raised {type(err).__name__}: {err}")


def attempt(fn, *args, **kwargs):
    """Run the student's function: (result, None), or (None, Feedback) when it is still a placeholder,
    raises, or returns `...`."""
    if unanswered(fn):
        return None, placeholder()
    out, err = call(fn, *args, **kwargs)
    if err is None and unanswered(out):
        return None, placeholder("your function still returns `...`: write its body.")
    return out, err


def _resolve(name: str):
    """'torch.nn.functional.leaky_relu' or 'lmutils.models.GPT.flops_per_token' → (owner, attribute), or
    (None, None) where this version of PyTorch has no such thing."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part, None)
        return (owner, parts[-1]) if hasattr(owner, parts[-1]) else (None, None)
    return None, None


@contextmanager
def _patched(owner, attr, value):
    """owner.attr = value for the block (owner a module, a class or a dict)."""
    if isinstance(owner, dict):
        old, owner[attr] = owner[attr], value
    else:
        old = vars(owner)[attr]
        setattr(owner, attr, value)
    try:
        yield
    finally:
        if isinstance(owner, dict):
            owner[attr] = old
        else:
            setattr(owner, attr, old)


@contextmanager
def forbid(fn, *names: str):
    """While the student's function fn runs, each of names (dotted, e.g. 'torch.nn.functional.leaky_relu')
    raises Forbidden("don't call …"), wherever the student reaches it from: its module or class, every
    lmutils module that imported it, and fn's globals (the notebook's imports)."""
    with ExitStack() as stack:
        for name in names:
            owner, attr = _resolve(name)
            if owner is None:
                continue
            original = getattr(owner, attr)
            label = f"{owner.__name__}.{attr}" if isinstance(owner, type) else attr

            def refuse(*args, _label=label, **kwargs):
                raise Forbidden(f"don't call `{_label}` here: the exercise is to write it yourself "
                                "(the checker compares your version with it).")

            spots = [(owner, attr)]
            spots += [(vars(m), a) for m in list(sys.modules.values()) if m is not owner
                      and getattr(m, "__name__", "").startswith("lmutils") for a, v in list(vars(m).items())
                      if v is original]
            spots += [(fn.__globals__, a) for a, v in list(getattr(fn, "__globals__", {}).items()) if v is original]
            for place, a in spots:
                stack.enter_context(_patched(place, a, refuse))
        yield


@contextmanager
def seeded(seed: int):
    """torch's global RNG seeded for the block, and given back as it was afterwards."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def close(got, expected, tol: float = 1e-4) -> bool:
    """Numbers, sequences or tensors equal within tol (relative or absolute)."""
    try:
        got_t = torch.as_tensor(to_cpu(got), dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    exp_t = torch.as_tensor(to_cpu(expected), dtype=torch.float64)
    if got_t.shape != exp_t.shape:
        return False
    same = torch.allclose(got_t, exp_t, rtol=tol, atol=tol, equal_nan=False)
    return bool(same) and not math.isnan(got_t.sum().item())
