"""Exercise checkers. Each notebook has a module here (nb01, nb02, …) with one checker per exercise:

    from lmutils.course.checks import nb01 as check
    check.leaky_relu(my_leaky_relu)     # ✅ Correct! …  or  ❌ Not yet: <a hint, never the answer>
    show_solution("nb01.leaky_relu")    # prints the reference solution; the verdict says so afterwards

A checker never raises on a wrong answer (the notebook must run top to bottom with the exercise unsolved); it
returns a Feedback, which prints itself and is truthy when correct.

How a checker keeps an exercise honest:
- it draws its cases when it runs (`rng()`: a generator seeded per exercise and per check, so every check sees
  new sizes and values) and computes the expected answers itself, from its own reference or PyTorch's, never
  from notebooks/solutions/ (which only show_solution() reads);
- forbid() takes the reference away while the student's function runs: named functions and classes (wherever
  they were imported to), PyTorch operations by name whatever the route to them (F.*, nn modules, torch._VF,
  torch._C._nn, torch.ops.aten: a TorchFunctionMode and a TorchDispatchMode watch every call), building any
  nn.Module, and the notebook's own functions;
- hints climb a ladder with each wrong try: a nudge (the idea), a pointer (the equation, the cell to reread, what
  is wrong in the student's own output), then a partial line with blanks (`__`). Never the solution's code:
  tests/test_exercises.py compares every hint reachable from each wrong answer with every line of the solutions.

@checker wraps every checker: it leaves the student's random number generators as they were, counts wrong
tries, seeds rng(), turns an unexpected error into a hint, and marks a correct answer given after
show_solution(). Every sentence goes through lmutils.course.i18n._ so that it can be translated.
"""

import ast
import functools
import importlib
import math
import random
import sys
import zlib
from contextlib import ExitStack, contextmanager

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from ...files import course_dir
from ..i18n import _


class Feedback:
    def __init__(self, ok: bool, message: str = "", counts: bool = True, viewed: bool = False):
        self.ok, self.message, self.counts = ok, message, counts  # counts: a wrong try (not a placeholder)
        self.viewed = viewed  # correct, but after show_solution()

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok and self.viewed:
            return _("✅ Correct, after viewing the solution.")
        if self.ok:
            return _("✅ Correct! {message}", message=self.message) if self.message else _("✅ Correct!")
        return _("❌ Not yet: {message}", message=self.message)


def correct(message: str = "") -> Feedback:
    return Feedback(True, message)


_tries: dict[str, int] = {}     # exercise → wrong tries so far (this session)
_checks: dict[str, int] = {}    # exercise → checks so far, right or wrong: each sees other cases
_viewed: set[str] = set()       # exercises whose solution was shown
_running: list[tuple[str, torch.Generator]] = []  # the checkers running now (innermost last), with their rng
REGISTRY: dict[str, object] = {}  # "nb05.gru_step" → its checker


def tries() -> int:
    """How many wrong tries the running checker has had before this one."""
    return _tries.get(_running[-1][0], 0) if _running else 0


def rng() -> torch.Generator:
    """The running checker's random number generator: seeded from the exercise's name and the number of
    checks made so far, so that a check cannot be answered from a table made at an earlier check."""
    if not _running:
        raise RuntimeError("rng() is for checkers: call it inside a function decorated with @checker")
    return _running[-1][1]


def integer(low: int, high: int) -> int:
    """A random integer in [low, high] (both included), from rng()."""
    return int(torch.randint(low, high + 1, (), generator=rng()))


def uniform(low: float, high: float) -> float:
    """A random float in [low, high), from rng()."""
    return low + (high - low) * float(torch.rand((), generator=rng(), dtype=torch.float64))


def reset_tries() -> None:
    """Forget every wrong try, check and viewed solution of this session."""
    _tries.clear()
    _checks.clear()
    _viewed.clear()


def hint(*levels: str) -> Feedback:
    """A hint that says more the more often this exercise was answered wrong: levels[0] on the first wrong
    try (the nudge), levels[1] on the second (the pointer), levels[2] from the third on (the partial line, with
    blanks); with fewer levels the last one repeats."""
    return Feedback(False, levels[min(tries(), len(levels) - 1)])


def placeholder(message: str | None = None) -> Feedback:
    """The exercise is not answered yet: not counted as a wrong try."""
    return Feedback(False, message or _("replace the `...` with your answer, then run the cell again."),
                    counts=False)


def _from_the_solutions(answer) -> bool:
    """True for a function defined in the solutions' folder (imported from it, or exec'd from its file)."""
    code = getattr(answer, "__code__", None)
    if code is None:
        return False
    try:
        folder = course_dir("solutions").resolve()
        return folder in type(folder)(code.co_filename).resolve().parents
    except (OSError, ValueError):
        return False


def checker(fn):
    """Decorates an exercise checker: see the module's docstring."""
    key = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

    @functools.wraps(fn)
    def check(answer):
        seed = (zlib.crc32(key.encode()) + 7919 * _checks.get(key, 0)) % 2 ** 31
        _checks[key] = _checks.get(key, 0) + 1
        _running.append((key, torch.Generator().manual_seed(seed)))
        python_state = random.getstate()
        try:
            with torch.random.fork_rng():
                feedback = fn(answer)
        except Exception as err:  # an answer of a shape no one foresaw: a hint, never a crash
            feedback = Feedback(False, _("your answer could not be checked ({error}); read the exercise again "
                                         "for what to return.", error=f"{type(err).__name__}: {err}"))
        finally:
            random.setstate(python_state)
            _running.pop()
        if not feedback.ok and feedback.counts:
            _tries[key] = _tries.get(key, 0) + 1
        if feedback.ok and (key in _viewed or _from_the_solutions(answer)):
            feedback.viewed = True
        return feedback

    check.key = key
    REGISTRY[key] = check
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


_refused: list[str] = []  # the messages of refused calls during the student's function (even if it caught them)


def call(fn, *args, **kwargs):
    """Run the student's function; returns (result on the CPU, None) or (None, Feedback explaining the
    exception, or the refused call)."""
    if not callable(fn):
        return None, hint(_("expected a function, got {kind}.", kind=type(fn).__name__))
    _refused.clear()
    try:
        out = to_cpu(fn(*args, **kwargs))
    except Forbidden as err:
        return None, hint(str(err))
    except Exception as err:  # the student's code, any error: turn it into a hint
        if _refused:
            return None, hint(_refused[0])
        return None, hint(_("your function raised {error}", error=f"{type(err).__name__}: {err}"))
    if _refused:
        return None, hint(_refused[0])
    return out, None


def attempt(fn, *args, **kwargs):
    """Run the student's function: (result, None), or (None, Feedback) when it is still a placeholder,
    raises, calls something forbidden, or returns `...`."""
    if unanswered(fn):
        return None, placeholder()
    out, err = call(fn, *args, **kwargs)
    if err is None and unanswered(out):
        return None, placeholder(_("your function still returns `...`: write its body."))
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
        try:
            found = owner is not None and parts[-1] in vars(owner)
        except TypeError:  # an object without __dict__
            found = False
        return (owner, parts[-1]) if found else (None, None)
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


def _refuse_with(message: str):
    def refuse(*args, **kwargs):
        _refused.append(message)
        raise Forbidden(message)
    return refuse


def _op_name(func) -> str:
    packet = getattr(func, "_overloadpacket", None)
    return getattr(packet if packet is not None else func, "__name__", "")


class _RefuseOps(TorchFunctionMode):
    """Refuses every PyTorch function whose name contains one of `stems`, whatever the route to it."""

    def __init__(self, stems):
        super().__init__()
        self.stems = stems

    def __torch_function__(self, func, types, args=(), kwargs=None):
        _check_op(_op_name(func), self.stems)
        return func(*args, **(kwargs or {}))


class _RefuseKernels(TorchDispatchMode):
    """The same for the kernels that run (a call that got past the functions, e.g. with torch function
    handling switched off)."""

    def __init__(self, stems):
        super().__init__()
        self.stems = stems

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        _check_op(_op_name(func), self.stems)
        return func(*args, **(kwargs or {}))


def _check_op(name: str, stems) -> None:
    for stem in stems:
        if stem in name:
            message = _("don't call `{name}` here: the exercise is to write it yourself (the checker compares "
                        "your version with PyTorch's).", name=name)
            _refused.append(message)
            raise Forbidden(message)


def _is_notebook_object(obj, fn) -> bool:
    """A function or class that the notebook (the module of the student's function) defined itself."""
    return callable(obj) and getattr(obj, "__module__", None) == getattr(fn, "__module__", object())


BUILD = "torch.nn.Module.__init__"  # forbid(fn, BUILD): no model may be built (count from the shapes instead)


@contextmanager
def forbid(fn, *names: str, ops=(), notebook=(), message: str | None = None):
    """While the student's function fn runs, refuse (raise Forbidden with a hint):
    - names: dotted names (e.g. 'torch.nn.functional.leaky_relu', 'lmutils.models.GPT', BUILD), wherever the
      student reaches them from: their module or class, every lmutils module that imported them, fn's globals;
    - ops: PyTorch operations whose name contains one of these stems ('leaky_relu', 'lstm_cell', …), by any
      route (functional, nn modules, torch._VF, torch._C._nn, torch.ops.aten, the kernels);
    - notebook: names of functions or classes the notebook defined before the exercise (found in fn's globals).
    `message` replaces the default sentence for names."""
    with ExitStack() as stack:
        for name in names:
            owner, attr = _resolve(name)
            if owner is None:
                continue
            original = vars(owner)[attr]
            label = f"{owner.__name__}.{attr}" if isinstance(owner, type) else attr
            if label.endswith(".__init__"):
                label = f"{label[:-len('.__init__')]}(...)"
            refuse = _refuse_with(message or _("don't call `{name}` here: the exercise is to write it yourself "
                                               "(the checker compares your version with it).", name=label))
            spots = [(owner, attr)]
            spots += [(vars(m), a) for m in list(sys.modules.values()) if m is not owner
                      and getattr(m, "__name__", "").startswith("lmutils") for a, v in list(vars(m).items())
                      if v is original]
            spots += [(fn.__globals__, a) for a, v in list(getattr(fn, "__globals__", {}).items()) if v is original]
            for place, a in spots:
                stack.enter_context(_patched(place, a, refuse))
        space = getattr(fn, "__globals__", {})
        for name in notebook:
            original = space.get(name)
            if original is None or not _is_notebook_object(original, fn) or original is fn:
                continue
            refuse = _refuse_with(_("don't call the notebook's own `{name}` here: the exercise asks for a "
                                    "version of your own.", name=name))
            for a, v in list(space.items()):
                if v is original:
                    stack.enter_context(_patched(space, a, refuse))
        if ops:
            stack.enter_context(_RefuseOps(tuple(ops)))
            stack.enter_context(_RefuseKernels(tuple(ops)))
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
    same = bool(torch.allclose(got_t, exp_t, rtol=tol, atol=tol, equal_nan=False))
    return same and not math.isnan(got_t.sum().item())


def number(x):
    """x as a float (a Python number or a one-element tensor), or None."""
    try:
        return float(x.item() if torch.is_tensor(x) else x)
    except (TypeError, ValueError, RuntimeError):
        return None


def shape_of(x) -> str:
    """How to name what the student returned: a tensor's shape, or its type."""
    return str(tuple(x.shape)) if torch.is_tensor(x) else type(x).__name__


# --- show_solution ------------------------------------------------------------------------------------

def _names_used(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def solution_source(name: str) -> str:
    """The reference solution of exercise `name` ("nb05.gru_step") as source code, read from
    notebooks/solutions/nbNN.py (inside the package when it is installed from a wheel)."""
    stem, _dot, exercise = name.partition(".")
    path = course_dir("solutions") / f"{stem}.py"
    if not path.is_file():
        known = sorted(p.stem for p in course_dir("solutions").glob("nb[0-9][0-9].py"))
        raise ValueError(_("no solutions for {stem!r}: give the notebook and the exercise, e.g. "
                           "show_solution(\"nb05.gru_step\"); the notebooks are {known}.", stem=stem,
                           known=", ".join(known)))
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    table = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "SOLUTIONS" for t in node.targets))
    entries = {k.value: v for k, v in zip(table.keys, table.values)}
    if exercise not in entries:
        raise ValueError(_("{stem} has no exercise {exercise!r}: its exercises are {known}.", stem=stem,
                           exercise=exercise, known=", ".join(entries)))
    defined = {}  # top-level name → its statement
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name) and t.id != "SOLUTIONS":
                    defined[t.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                defined[(alias.asname or alias.name).split(".")[0]] = node
    wanted, todo = set(), list(_names_used(entries[exercise]))
    while todo:  # the solution's function and what it uses from the file, imports included
        n = todo.pop()
        if n in defined and defined[n] not in wanted:
            wanted.add(defined[n])
            todo.extend(_names_used(defined[n]) if not isinstance(defined[n], (ast.Import, ast.ImportFrom)) else [])
    imports, code = [], []
    for node in tree.body:
        if node in wanted:
            is_import = isinstance(node, (ast.Import, ast.ImportFrom))
            (imports if is_import else code).append(ast.get_source_segment(source, node))
    if not isinstance(entries[exercise], ast.Name):
        code.append(f"{exercise} = {ast.get_source_segment(source, entries[exercise])}")
    return "\n".join(imports) + ("\n\n" if imports else "") + "\n\n\n".join(code)


def show_solution(name: str) -> None:
    """Print the reference solution of exercise `name` (e.g. "nb05.gru_step"). Its checker says
    "correct, after viewing the solution" from then on."""
    source = solution_source(name)
    _viewed.add(name)
    print(_("# the solution of {name}, from notebooks/solutions/{stem}.py", name=name,
            stem=name.partition(".")[0]))
    print(source)
