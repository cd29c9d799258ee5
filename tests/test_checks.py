"""The machinery every exercise checker shares (lmutils.course.checks): hints that nudge before they give
the recipe, placeholders that are not wrong tries, the student's RNG left alone, answers from a GPU moved
to the CPU, and the library's own answer made unavailable only while the student's function runs."""

import pytest
import torch
import torch.nn.functional as F

from lmutils.course import checks
from lmutils.course.checks import nb01, nb06


@pytest.fixture(autouse=True)
def fresh_tries():
    checks.reset_tries()
    yield
    checks.reset_tries()


def test_hints_say_more_with_each_wrong_try_then_repeat_the_recipe():
    @checks.checker
    def exercise(answer):
        return checks.correct() if answer == 42 else checks.hint("nudge", "more", "recipe")

    assert [exercise(1).message for _ in range(4)] == ["nudge", "more", "recipe", "recipe"]
    assert exercise(42).ok


def test_placeholders_are_not_wrong_tries_and_each_exercise_counts_its_own():
    for _ in range(3):
        nb01.leaky_relu(...)
        nb01.leaky_relu(lambda z: ...)
    assert "plain ReLU" in nb01.leaky_relu(torch.relu).message
    assert "0.01·z (small and negative)" in nb01.leaky_relu(lambda z: z).message       # the 2nd wrong try
    assert "torch.where(z > 0, z, 0.01 * z)" in nb01.leaky_relu(lambda z: z).message  # the 3rd: the recipe
    assert "one more operation" in nb06.attention(lambda Q, K, V: (Q @ K.transpose(-2, -1)).softmax(-1) @ V).message


def test_a_student_function_that_draws_random_numbers_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    nb01.leaky_relu(lambda z: z + torch.randn(z.shape))
    assert torch.equal(torch.get_rng_state(), before)


def test_an_unforeseen_answer_gets_a_hint_never_an_exception():
    class Weird:
        def __float__(self):
            raise RuntimeError("no")

    feedback = nb01.step_weights([Weird(), 1.0])
    assert not feedback.ok and feedback.message


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


def test_forbid_refuses_inside_and_restores_after():
    def student(z):
        return F.leaky_relu(z, 0.01)

    with checks.forbid(student, "torch.nn.functional.leaky_relu", "torch.no_such_function"):
        with pytest.raises(checks.Forbidden, match="don't call `leaky_relu`"):
            student(torch.ones(1))
    assert student(torch.tensor([-1.0])).item() == pytest.approx(-0.01)
    feedback = nb01.leaky_relu(student)
    assert not feedback.ok and "don't call `leaky_relu`" in feedback.message
