"""The machinery every exercise checker shares (lmutils.course.checks): hints that climb a ladder, placeholders that
are not wrong tries, cases drawn anew at every check, the student's RNGs left alone, answers from a GPU moved to the
CPU, references refused by every route while the student's function runs, show_solution, and every sentence going
through lmutils.course.i18n._ so that it can be translated."""

import ast
import random
import re
import string
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lmutils.course import checks, i18n
from lmutils.course.checks import nb01, nb06

CHECKS = Path(checks.__file__).parent


@pytest.fixture(autouse=True)
def fresh_tries():
    checks.reset_tries()
    yield
    checks.reset_tries()


def test_hints_say_more_with_each_wrong_try_then_repeat_the_last_level():
    @checks.checker
    def exercise(answer):
        return checks.correct() if answer == 42 else checks.hint("nudge", "pointer", "partial __")

    assert [exercise(1).message for _ in range(4)] == ["nudge", "pointer", "partial __", "partial __"]
    assert exercise(42).ok


def test_placeholders_are_not_wrong_tries_and_each_exercise_counts_its_own():
    for _ in range(3):
        nb01.leaky_relu(...)
        nb01.leaky_relu(lambda z: ...)
    assert "plain ReLU" in nb01.leaky_relu(torch.relu).message                         # the 1st wrong try
    assert "slope 1" in nb01.leaky_relu(lambda z: z).message                            # the 2nd: a pointer
    assert "torch.where(z > 0, __, __)" in nb01.leaky_relu(lambda z: z).message        # the 3rd: blanks
    assert "exactly where the mask says blocked" in nb06.attention(
        lambda Q, K, V, b: (Q @ K.transpose(-2, -1) / Q.size(-1) ** 0.5).masked_fill(~b, float("-inf")).softmax(-1)
        .nan_to_num(0) @ V).message


def test_every_check_draws_new_cases_but_the_same_ones_after_a_reset():
    seen = []

    @checks.checker
    def exercise(answer):
        seen.append(checks.integer(0, 10 ** 9))
        return checks.hint("no")

    exercise(1), exercise(1)
    checks.reset_tries()
    exercise(1)
    assert seen[0] != seen[1] and seen[2] == seen[0]
    with pytest.raises(RuntimeError, match="inside a function decorated with @checker"):
        checks.rng()


def test_a_student_function_that_draws_random_numbers_leaves_every_rng_alone():
    torch.manual_seed(0)
    random.seed(0)
    before, python_before = torch.get_rng_state(), random.getstate()
    nb01.leaky_relu(lambda z: z + torch.randn(z.shape) + random.random())
    assert torch.equal(torch.get_rng_state(), before) and random.getstate() == python_before


def test_an_unforeseen_answer_gets_a_hint_never_an_exception():
    class Weird:
        def __float__(self):
            raise RuntimeError("no")

    for answer in ([Weird(), 1.0], Weird(), lambda x0, s: (Weird(), Weird()), "text"):
        feedback = nb01.step_weights(answer)
        assert not feedback.ok and feedback.message

    @checks.checker
    def broken(answer):
        raise KeyError("a bug in a checker")

    assert "could not be checked" in broken(1).message


def test_results_come_back_to_the_cpu(monkeypatch):
    moved = []
    real_cpu = torch.Tensor.cpu

    def cpu(self, *args, **kwargs):
        moved.append(tuple(self.shape))
        return real_cpu(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", cpu)
    out, err = checks.call(lambda: (torch.ones(2), [torch.zeros(3, 1)]))
    assert err is None and moved == [(2,), (3, 1)]
    assert isinstance(out, tuple) and isinstance(out[1], list)


def test_forbid_refuses_a_name_inside_and_restores_it_after():
    def student(z):
        return F.leaky_relu(z, 0.01)

    with checks.forbid(student, "torch.nn.functional.leaky_relu", "torch.no_such_function"):
        with pytest.raises(checks.Forbidden, match="don't call `leaky_relu`"):
            student(torch.ones(1))
    assert student(torch.tensor([-1.0])).item() == pytest.approx(-0.01)


ROUTES = {  # one operation, reached in many ways
    "functional": lambda z: F.leaky_relu(z, 0.01),
    "module": lambda z: nn.LeakyReLU(0.01)(z),
    "private C binding": lambda z: torch._C._nn.leaky_relu(z, 0.01),
    "aten op": lambda z: torch.ops.aten.leaky_relu(z, 0.01),
    "a cousin": lambda z: F.rrelu(z, 0.01, 0.01),
    "without torch functions": lambda z: _without_torch_function(lambda: F.leaky_relu(z, 0.01)),
}


def _without_torch_function(f):
    with torch._C.DisableTorchFunction():
        return f()


@pytest.mark.parametrize("route", ROUTES, ids=list(ROUTES))
def test_forbidden_ops_are_refused_by_every_route(route):
    fn = ROUTES[route]
    with checks.forbid(fn, ops=("leaky_relu", "rrelu")):
        with pytest.raises(checks.Forbidden, match="don't call"):
            fn(torch.ones(3))
    assert fn(torch.tensor([-1.0])).item() == pytest.approx(-0.01)           # and works again after
    feedback = nb01.leaky_relu(fn)
    assert not feedback.ok and "don't call" in feedback.message


def test_a_refused_call_counts_even_when_the_student_catches_it():
    def sly(z):
        try:
            return F.leaky_relu(z, 0.01)
        except Exception:
            return torch.where(z > 0, z, 0.01 * z)

    with checks.forbid(sly, ops=("leaky_relu",)):
        out, err = checks.call(sly, torch.ones(2))
    assert out is None and "don't call" in err.message


def test_building_a_model_can_be_refused_whatever_its_class():
    def student(V, E, H):
        return sum(p.numel() for p in nn.modules.rnn.RNN(E, H).parameters())

    with checks.forbid(student, checks.BUILD, message="no models here"):
        with pytest.raises(checks.Forbidden, match="no models here"):
            student(5, 3, 4)
    assert student(5, 3, 4) == 4 * 3 + 4 * 4 + 2 * 4


def test_the_notebooks_own_functions_can_be_refused():
    space = {"__name__": "__main__", "torch": torch}
    exec("def attention(Q, K, V):\n    return (Q @ K.T).softmax(-1) @ V, None\n"
         "same = attention\n"
         "def mine(Q, K, V):\n    return same(Q, K, V)[0]\n", space)
    with checks.forbid(space["mine"], notebook=("attention",)):
        with pytest.raises(checks.Forbidden, match="the notebook's own `attention`"):
            space["mine"](torch.ones(2, 2), torch.ones(2, 2), torch.ones(2, 2))
    assert space["same"] is space["attention"]                               # given back


def test_show_solution_prints_the_solution_and_the_verdict_says_so(capsys):
    checks.show_solution("nb01.leaky_relu")
    printed = capsys.readouterr().out
    assert "def leaky_relu(z):" in printed and "torch.where(z > 0, z, 0.01 * z)" in printed
    assert "import torch" in printed
    feedback = nb01.leaky_relu(lambda z: torch.where(z > 0, z, 0.01 * z))
    assert feedback.ok and repr(feedback) == "✅ Correct, after viewing the solution."
    assert "after viewing" not in repr(nb06.score_scale(lambda d, a, b: 1 / (d ** 0.5 * a * b)))


def test_show_solution_shows_settings_and_the_helpers_a_solution_uses():
    assert checks.solution_source("nb03.small_corpus").strip().endswith("small_corpus = (3, 0.1)")
    source = checks.solution_source("nb04.fit_accum")
    assert "def _accum_variant" in source and "my_fit_accum = _accum_variant()" in source


@pytest.mark.parametrize("name, says", [("nb99.x", "no solutions for 'nb99'"), ("nb01.nope", "no exercise 'nope'")])
def test_show_solution_explains_a_wrong_name(name, says):
    with pytest.raises(ValueError, match=says):
        checks.show_solution(name)


# --- translation-ready messages -----------------------------------------------------------------------

SPEAKERS = {"hint", "correct", "placeholder", "Feedback", "Forbidden", "_refuse_with", "print"}


def _course_modules():
    return sorted(p for p in (CHECKS.parent).rglob("*.py") if "checks" in p.parts or p.name == "i18n.py")


def _calls(path):
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Call)]


@pytest.mark.parametrize("path", sorted(CHECKS.glob("*.py")), ids=lambda p: p.name)
def test_every_sentence_for_the_student_goes_through_the_catalogue(path):
    """No string literal (or f-string) is handed to a hint, a verdict or a refusal: only _("…") sentences."""
    bad = []
    for call in _calls(path):
        name = getattr(call.func, "id", getattr(call.func, "attr", ""))
        if name in SPEAKERS:
            for arg in list(call.args) + [k.value for k in call.keywords if k.arg == "message"]:
                if isinstance(arg, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(arg, "value", ""), str):
                    bad.append(f"line {call.lineno}: {ast.unparse(arg)[:60]}")
                if isinstance(arg, ast.BinOp):            # "a" + "b": a sentence glued from pieces
                    bad.append(f"line {call.lineno}: {ast.unparse(arg)[:60]}")
    assert not bad, f"{path.name}: give these through _(): {bad}"


@pytest.mark.parametrize("path", sorted(CHECKS.glob("*.py")) + [CHECKS.parent / "i18n.py"], ids=lambda p: p.name)
def test_each_catalogue_sentence_is_one_plain_string_whose_fields_are_all_given(path):
    for call in i18n.calls(path.read_text(encoding="utf-8")):
        assert len(call.args) == 1 and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str), \
            f"{path.name}:{call.lineno}: _() takes one plain string (fields by name, no f-string)"
        text = call.args[0].value
        fields = {name.split(".")[0].split("[")[0] for _lit, name, _spec, _conv in string.Formatter().parse(text)
                  if name is not None}
        assert "" not in fields, f"{path.name}:{call.lineno}: positional field {{}} in {text!r}"
        given = {k.arg for k in call.keywords}
        if None not in given:                                # no **fields
            assert fields == given, f"{path.name}:{call.lineno}: {text!r} needs {fields}, gets {given}"


def test_the_catalogue_lists_every_sentence_once():
    sentences = i18n.catalogue()
    assert len(sentences) == len(set(sentences)) > 300
    assert "❌ Not yet: {message}" in sentences and "✅ Correct, after viewing the solution." in sentences
    assert i18n._("for T = {T}: {shape}", T=5, shape=(4, 4)) == "for T = 5: (4, 4)"


def test_every_verdict_is_a_catalogue_sentence():
    known = [re.escape(s).replace(r"\{message\}", ".*") for s in i18n.catalogue() if s.startswith(("✅", "❌"))]
    for feedback in (nb01.leaky_relu(torch.relu), nb01.leaky_relu(lambda z: torch.where(z > 0, z, 0.01 * z)),
                     nb01.leaky_relu(...)):
        assert any(re.fullmatch(k, repr(feedback), re.S) for k in known), repr(feedback)
