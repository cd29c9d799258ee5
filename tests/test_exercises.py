"""Every exercise checker accepts its solution and turns typical wrong answers away with THEIR hint.

notebooks/solutions/nbNN.py defines SOLUTIONS = {checker name: answer} and
WRONG = {checker name: [(answer, the first hint contains[, the third hint contains]), ...]} for the checkers
in lmutils.course.checks.nbNN; each checker takes one argument, the student's answer.
Also: hints nudge before they give the recipe, checkers leave the global RNG alone, accept answers
computed on another device, and refuse an answer that calls the library's or PyTorch's own version of
what the exercise asks to write.
"""

import importlib
import importlib.util
import inspect
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import lmutils.recurrent as rec
from lmutils.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention, sinusoidal_positions
from lmutils.course import checks
from lmutils.data import windows
from lmutils.generate import next_token_probs
from lmutils.models import GPT, Block, GPTConfig, RNNConfig, RNNLM, num_params
from lmutils.ngram import perplexity
from lmutils.progress import Reporter
from lmutils.train import TrainConfig, fit, lr_at, make_optimizer, mfu

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


def hinted(wrong):
    """A WRONG entry as (answer, first hint contains, third hint contains): None where it does not say."""
    if isinstance(wrong, tuple) and len(wrong) in (2, 3) and all(isinstance(w, str) for w in wrong[1:]):
        return (*wrong, None)[:3]
    return wrong, None, None


def cases(kind):
    for path in SOLUTION_FILES:
        solutions = load(path)
        for name, answers in getattr(solutions, kind).items():
            for i, answer in enumerate(answers if kind == "WRONG" else [answers]):
                yield pytest.param(path.stem, name, answer, id=f"{path.stem}.{name}[{i}]")


@pytest.fixture(autouse=True)
def fresh_tries():
    """Every test starts as a student's first try."""
    checks.reset_tries()
    yield
    checks.reset_tries()


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
    if any(hinted(w)[1] for wrong in solutions.WRONG.values() for w in wrong):  # hints named: all of them
        for name, wrong in solutions.WRONG.items():
            assert all(hinted(w)[1] for w in wrong), f"{name}: give each wrong answer as (answer, hint[, recipe])"
            assert any(hinted(w)[2] for w in wrong), f"{name}: show that one hint nudges before the recipe"


@pytest.mark.parametrize("stem, name, answer", list(cases("SOLUTIONS")))
def test_solution_passes(stem, name, answer):
    feedback = checkers(stem)[name](answer)
    assert feedback.ok, feedback.message
    assert repr(feedback).startswith("✅")


@pytest.mark.parametrize("stem, name, wrong", list(cases("WRONG")))
def test_wrong_answer_gets_its_hint(stem, name, wrong):
    answer, first, recipe = hinted(wrong)
    check = checkers(stem)[name]
    feedback = check(answer)
    assert not feedback.ok
    assert repr(feedback).startswith("❌ Not yet: ") and len(feedback.message) > 15
    assert first is None or first in feedback.message, feedback.message
    if recipe:  # the recipe only after repeated wrong tries
        assert recipe not in feedback.message, "the first hint should nudge, not give the recipe"
        check(answer)
        third = check(answer)
        assert recipe in third.message, third.message


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_unanswered_exercises_get_a_hint_not_an_exception(path):
    for name, check in checkers(path.stem).items():
        for placeholder in (..., lambda *args, **kwargs: ...):
            feedback = check(placeholder)
            assert not feedback.ok and feedback.message, name
        assert not check(...).counts, f"{name}: a placeholder is not a wrong try"


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_checkers_leave_the_global_rng_alone(path):
    solutions = load(path)
    checks_of = checkers(path.stem)
    torch.manual_seed(123)
    answers = [(name, a) for name, a in solutions.SOLUTIONS.items()]
    answers += [(name, hinted(w)[0]) for name, wrong in solutions.WRONG.items() for w in wrong]
    for name, answer in answers:
        before = torch.get_rng_state()
        checks_of[name](answer)
        assert torch.equal(torch.get_rng_state(), before), name


class OnAnotherDevice(torch.Tensor):
    """Stands for a tensor on a GPU: reading its metadata, detaching it and moving it to the CPU work,
    anything else fails as mixing devices does."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.cpu:
            with torch._C.DisableTorchFunctionSubclass():
                return args[0].as_subclass(torch.Tensor).clone()
        if getattr(func, "__name__", "") in ("detach", "__get__"):
            return super().__torch_function__(func, types, args, kwargs or {})
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                           "cuda:0 and cpu!")


def _elsewhere(x):
    if torch.is_tensor(x):
        return x.detach().as_subclass(OnAnotherDevice)
    if isinstance(x, (tuple, list)):
        return type(x)(_elsewhere(v) for v in x)
    return x


def test_the_stand_in_for_a_gpu_tensor_refuses_to_mix():
    t = _elsewhere(torch.ones(3))
    with pytest.raises(RuntimeError, match="same device"):
        t + torch.ones(3)
    assert type(t.detach().cpu()) is torch.Tensor and t.shape == (3,)


@pytest.mark.parametrize("stem, name, answer", [c for c in cases("SOLUTIONS") if callable(c.values[2])])
def test_answers_computed_on_another_device_are_accepted(stem, name, answer):
    feedback = checkers(stem)[name](lambda *args: _elsewhere(answer(*args)))
    assert feedback.ok, feedback.message


# --- answers that call the library's or PyTorch's own version (the notebooks import most of these) ------

def _autograd_mse(y, t):
    y = y.clone().requires_grad_()
    F.mse_loss(y, t).backward()
    return y.grad


def _autograd_linear(X, W, dY):
    X, W = X.clone().requires_grad_(), W.clone().requires_grad_()
    b = torch.zeros(W.shape[1], dtype=W.dtype, requires_grad=True)
    (X @ W + b).backward(dY)
    return X.grad, W.grad, b.grad


def _clip_by_torch(grads, max_norm):
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params]


def _rnn_backward(g, h_t, W_hh):
    B, H = h_t.shape
    return rec.rnn_backward(torch.zeros(B, 1, 1), torch.zeros(B, H), h_t[:, None], g[:, None],
                            torch.zeros(H, 1), W_hh)["dh0"]


def _lstm_by_library(x_t, h, C, W, b):
    n = h.shape[1]
    p = {}
    for k, g in enumerate("fico"):
        rows = slice(k * n, (k + 1) * n)
        p.update({f"W_h{g}": W[rows, :n], f"W_x{g}": W[rows, n:], f"b_{g}": b[rows]})
    H, C_new = rec.lstm_forward(x_t[:, None], h, C, **p)[:2]
    return H[:, 0], C_new[:, 0]


def _decay_by_optimizer(model):
    groups = make_optimizer(model, TrainConfig(), torch.device("cpu")).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)] for g in groups if g["weight_decay"] > 0 for p in g["params"]}


CHEATS = [
    ("nb01", "leaky_relu", lambda z: F.leaky_relu(z, 0.01), "leaky_relu"),
    ("nb01", "leaky_relu", nn.LeakyReLU(0.01), "leaky_relu"),
    ("nb02", "mse_grad", _autograd_mse, "backward"),
    ("nb02", "linear_backward", _autograd_linear, "backward"),
    ("nb03", "perplexity_from_probs", lambda p: perplexity(-p.log().mean().item()), "perplexity"),
    ("nb03", "make_windows", lambda ids, T: windows(ids, T), "windows"),
    ("nb04", "rnn_step",
     lambda x, h, W, b: rec.rnn_forward(x[:, None], h, W[:, h.shape[1]:], W[:, :h.shape[1]], b)[:, 0],
     "rnn_forward"),
    ("nb04", "grad_to_previous", _rnn_backward, "rnn_backward"),
    ("nb04", "rnn_lm_params", lambda V, E, H: num_params(RNNLM(RNNConfig(V, n_embd=E, n_hidden=H))), "RNNLM"),
    ("nb04", "clip", _clip_by_torch, "clip_grad_norm_"),
    ("nb04", "fit_accum", lambda model, ids, cfg: fit(model, ids, ids, cfg, report=Reporter()).train_loss,
     "fit"),
    ("nb05", "lstm_step", _lstm_by_library, "lstm_forward"),
    ("nb05", "forget_gate", lambda lstm: [rec.lstm_params_from_torch(lstm)[k] for k in ("W_xf", "W_hf", "b_f")],
     "lstm_params_from_torch"),
    ("nb05", "lstm_params", lambda n_in, n_hidden: sum(p.numel() for p in nn.LSTM(n_in, n_hidden).parameters()),
     "LSTM"),
    ("nb06", "attention", lambda Q, K, V: F.scaled_dot_product_attention(Q, K, V), "scaled_dot_product_attention"),
    ("nb06", "attention", lambda Q, K, V: scaled_dot_product_attention(Q, K, V), "scaled_dot_product_attention"),
    ("nb06", "causal_mask", lambda T: causal_mask(T), "causal_mask"),
    ("nb06", "causal_mask", lambda T: nn.Transformer.generate_square_subsequent_mask(T) == 0,
     "generate_square_subsequent_mask"),
    ("nb06", "split_heads", lambda x, n_head: MultiHeadAttention(x.shape[-1], n_head).split_heads(x), "split_heads"),
    ("nb06", "positional_encoding", lambda T, d: sinusoidal_positions(T, d), "sinusoidal_positions"),
    ("nb07", "gpt_params", lambda V, T, L, C: num_params(GPT(GPTConfig(V, T, L, 1, C))), "GPT"),
    ("nb07", "gpt_params", lambda V, T, L, C: sum(p.numel() for p in GPT(GPTConfig(V, T, L, 1, C)).parameters()),
     "GPT"),
    ("nb07", "block_forward", lambda b, x: b(x), "Block.forward"),
    ("nb07", "block_forward", lambda b, x: Block.forward(b, x), "Block.forward"),
    ("nb07", "top_k", lambda logits, k: next_token_probs(logits, top_k=k), "next_token_probs"),
    ("nb07", "top_p", lambda logits, p: next_token_probs(logits, top_p=p), "next_token_probs"),
    ("nb08", "lr_schedule", lambda step, lr_max, lr_min, warmup, decay_end: lr_at(step, TrainConfig(
        learning_rate=lr_max, min_lr=lr_min, warmup_iters=warmup, lr_decay_iters=decay_end, max_iters=decay_end)),
     "lr_at"),
    ("nb08", "decay_params", _decay_by_optimizer, "make_optimizer"),
    ("nb08", "model_flops_utilisation", lambda model, speed, peak: model.flops_per_token() * speed / peak,
     "flops_per_token"),
    ("nb08", "model_flops_utilisation", lambda model, speed, peak: mfu(model.flops_per_token(), speed, peak),
     "flops_per_token"),
]


@pytest.mark.parametrize("stem, name, cheat, what", CHEATS, ids=[f"{c[0]}.{c[1]}[{c[3]}]" for c in CHEATS])
def test_calling_the_reference_is_refused(stem, name, cheat, what):
    feedback = checkers(stem)[name](cheat)
    assert not feedback.ok
    assert "don't call" in feedback.message and what in feedback.message, feedback.message


@pytest.mark.parametrize("stem, name, cheat, what", CHEATS[:1] + CHEATS[13:14] + CHEATS[21:22],
                         ids=["leaky_relu", "attention", "block"])
def test_the_references_work_again_after_the_check(stem, name, cheat, what):
    checkers(stem)[name](cheat)
    assert torch.equal(F.leaky_relu(torch.tensor([-1.0]), 0.01), torch.tensor([-0.01]))
    q = torch.ones(1, 2, 4)
    assert torch.allclose(F.scaled_dot_product_attention(q, q, q), scaled_dot_product_attention(q, q, q))
    assert causal_mask(2).tolist() == [[True, False], [True, True]]
    assert Block.forward.__name__ == "forward" and math.isfinite(lr_at(0, TrainConfig()))
