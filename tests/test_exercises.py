"""Every exercise checker accepts its solution and turns typical wrong answers away with a hint.

notebooks/solutions/nbNN.py defines SOLUTIONS = {checker name: answer} and WRONG = {checker name: [answers]}
for the checkers in lmutils.course.checks.nbNN; each checker takes one argument, the student's answer.
"""

import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_FILES = sorted((ROOT / "notebooks" / "solutions").glob("nb[0-9][0-9].py"))


def load(path):
    spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checkers(stem):
    module = importlib.import_module(f"lmutils.course.checks.{stem}")
    return {name: f for name, f in vars(module).items()
            if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == module.__name__}


def cases(kind):
    for path in SOLUTION_FILES:
        solutions = load(path)
        for name, answers in getattr(solutions, kind).items():
            for i, answer in enumerate(answers if kind == "WRONG" else [answers]):
                yield pytest.param(path.stem, name, answer, id=f"{path.stem}.{name}[{i}]")


def test_every_notebook_with_exercises_has_solutions():
    notebooks = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    checker_modules = {p.stem[2:] for p in (ROOT / "lmutils" / "course" / "checks").glob("nb[0-9][0-9].py")}
    assert checker_modules == notebooks
    assert {p.stem[2:] for p in SOLUTION_FILES} == notebooks


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_each_checker_has_a_solution_and_wrong_answers(path):
    solutions = load(path)
    names = set(checkers(path.stem))
    assert 3 <= len(names) <= 5, "each notebook has 3 to 5 exercises"
    assert set(solutions.SOLUTIONS) == names
    assert set(solutions.WRONG) == names and all(solutions.WRONG.values())


@pytest.mark.parametrize("stem, name, answer", list(cases("SOLUTIONS")))
def test_solution_passes(stem, name, answer):
    feedback = checkers(stem)[name](answer)
    assert feedback.ok, feedback.message
    assert repr(feedback).startswith("✅")


@pytest.mark.parametrize("stem, name, answer", list(cases("WRONG")))
def test_wrong_answer_gets_a_hint(stem, name, answer):
    feedback = checkers(stem)[name](answer)
    assert not feedback.ok
    assert repr(feedback).startswith("❌ Not yet: ") and len(feedback.message) > 15


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_unanswered_exercises_get_a_hint_not_an_exception(path):
    for name, check in checkers(path.stem).items():
        for placeholder in (..., lambda *args, **kwargs: ...):
            feedback = check(placeholder)
            assert not feedback.ok and feedback.message, name
