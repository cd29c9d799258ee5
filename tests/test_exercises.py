"""Every exercise checker accepts its solution, and turns away, with a hint and never with the solution's code:
typical wrong answers, constants, tables made at an earlier check, copies of the cell above, and every route to
a reference (PyTorch's, the package's, the notebook's own).

notebooks/solutions/nbNN.py defines SOLUTIONS = {checker name: answer} and
WRONG = {checker name: [(answer, the first hint contains[, the third hint contains]), ...]} for the checkers
in lmutils.course.checks.nbNN; each checker takes one argument, the student's answer. SHORTCUTS below are the
answers of a student who tries to pass without understanding.
"""

import ast
import importlib
import importlib.util
import inspect
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import lmutils.recurrent as rec
from lmutils import modern, optim
from lmutils.attention import MultiHeadAttention, PositionalEncoding, causal_mask, scaled_dot_product_attention, \
    sinusoidal_positions
from lmutils.bpe import bits_per_char, merge, pair_counts
from lmutils.course import checks
from lmutils.data import windows
from lmutils.engine import Value
from lmutils.finetune import GPTClassifier, LoRALinear, add_lora, trainable_params
from lmutils.generate import next_token_probs
from lmutils.chat import dpo_loss as chat_dpo_loss
from lmutils.chat import scored
from lmutils.kvcache import KVCache
from lmutils.mlp import backward as mlp_backward
from lmutils.models import GPT, Block, GPTConfig, RNNConfig, RNNLM, num_params
from lmutils.ngram import perplexity
from lmutils.speed import mfu
from lmutils.progress import Reporter
from lmutils.train import TrainConfig, fit, lm_loss, lr_at, make_optimizer, train_step

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_FILES = sorted((ROOT / "notebooks" / "solutions").glob("nb[0-9][0-9].py"))
EXPERIMENTS = {"nb01.new_points", "nb02.optimizer_race", "nb03.small_corpus", "nb04.learning_rate",
               "nb05.long_memory", "nb06.word_order", "nb07.context_length", "nb08.loss_scale",
               "nb09.lora_finetune", "nb10.bpe_bigram", "nb11.ns_steps", "nb12.sft_learning_rate"}


def load(path):
    spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checkers(stem):
    module = importlib.import_module(f"lmutils.course.checks.{stem}")
    return {name: f for name, f in vars(module).items()
            if inspect.isfunction(f) and not name.startswith("_") and getattr(f, "key", None) == f"{stem}.{name}"}


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
def test_each_checker_has_a_solution_wrong_answers_and_one_experiment(path):
    solutions = load(path)
    module = importlib.import_module(f"lmutils.course.checks.{path.stem}")
    names = set(checkers(path.stem))   # wrapped by @checker (notebook 09's too)
    assert all(getattr(module, n).key == f"{path.stem}.{n}" for n in solutions.SOLUTIONS if hasattr(module, n))
    assert 3 <= len(names) <= 5, "each notebook has 3 to 5 exercises"
    assert set(solutions.SOLUTIONS) == names
    assert set(solutions.WRONG) == names and all(solutions.WRONG.values())
    assert len({f"{path.stem}.{n}" for n in names} & EXPERIMENTS) == 1, "one experiment exercise per notebook"
    for name, wrong in solutions.WRONG.items():
        assert all(hinted(w)[1] for w in wrong), f"{name}: give each wrong answer as (answer, hint[, partial])"
        if f"{path.stem}.{name}" not in EXPERIMENTS:
            assert any(hinted(w)[2] for w in wrong), f"{name}: show that one hint nudges before the partial line"


@pytest.mark.parametrize("stem, name, answer", list(cases("SOLUTIONS")))
def test_solution_passes(stem, name, answer):
    feedback = checkers(stem)[name](answer)
    assert feedback.ok, feedback.message
    assert repr(feedback).startswith("✅")


@pytest.mark.parametrize("stem, name, wrong", list(cases("WRONG")))
def test_wrong_answer_gets_its_hint(stem, name, wrong):
    answer, first, partial = hinted(wrong)
    check = checkers(stem)[name]
    feedback = check(answer)
    assert not feedback.ok
    assert repr(feedback).startswith("❌ Not yet: ") and len(feedback.message) > 15
    assert "could not be checked" not in feedback.message, "a plausible wrong answer gets a hint, not a traceback"
    assert first is None or first in feedback.message, feedback.message
    if partial:  # the partial line only after repeated wrong tries
        assert partial not in feedback.message, "the first hint should nudge, not give the partial line"
        check(answer)
        third = check(answer)
        assert partial in third.message and "__" in third.message, third.message


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
    answers += [(name, hinted(w)[0]) for name, wrong in solutions.WRONG.items() for w in wrong[:2]]
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


IN_PLACE = {"nb05.load_seeds_lstm", "nb08.accumulate"}  # answers read back from the model, not returned


@pytest.mark.parametrize("stem, name, answer", [c for c in cases("SOLUTIONS") if callable(c.values[2]) and
                                                f"{c.values[0]}.{c.values[1]}" not in IN_PLACE | {"nb01.xor_network"}])
def test_answers_computed_on_another_device_are_accepted(stem, name, answer):
    feedback = checkers(stem)[name](lambda *args: _elsewhere(answer(*args)))
    assert feedback.ok, feedback.message


# --- no constant, no table: the cases are drawn at each check ----------------------------------------------

FUNCTIONS = [c for c in cases("SOLUTIONS") if callable(c.values[2])
             and f"{c.values[0]}.{c.values[1]}" not in IN_PLACE]


def _recorded(answer):
    """The solution, remembering what it returned, call by call."""
    outputs = []

    def record(*args):
        out = answer(*args)
        outputs.append(out)
        return out
    return record, outputs


@pytest.mark.parametrize("stem, name, answer", FUNCTIONS)
def test_a_constant_answer_fails(stem, name, answer):
    """The solution's first answer, given for every case."""
    check = checkers(stem)[name]
    record, outputs = _recorded(answer)
    assert check(record).ok
    checks.reset_tries()
    first = outputs[0]
    assert not check(lambda *args: first).ok


@pytest.mark.parametrize("stem, name, answer", FUNCTIONS)
def test_a_table_made_at_an_earlier_check_fails(stem, name, answer):
    """The solution's answers of one check, replayed in the same order at the next check."""
    check = checkers(stem)[name]
    record, outputs = _recorded(answer)
    assert check(record).ok
    table = iter(outputs)
    assert not check(lambda *args: next(table)).ok


# --- hints never hand over the code ------------------------------------------------------------------------

def _squeeze(text: str) -> str:
    for a, b in (("·", "*"), ("−", "-"), ("×", "*"), ('"', "'"), ("²", "**2"), ("ᵀ", ".T")):
        text = text.replace(a, b)
    return re.sub(r"\s+", "", text)


def solution_fragments(stem, name):
    """The pieces of the reference solution a hint must never contain: every statement's expression (the right
    side of an assignment, what a return returns, what a loop walks over), squeezed of spaces. Lines marked
    `# given` restate the exercise and are left out, as are bare names and numbers."""
    source = checks.solution_source(f"{stem}.{name}")
    lines = source.splitlines()
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt) or "# given" in lines[node.lineno - 1]:
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        parts = [getattr(node, "value", None), getattr(node, "iter", None), getattr(node, "test", None)]
        if isinstance(getattr(node, "value", None), ast.Tuple):
            parts += node.value.elts
        for part in parts:
            if part is not None:
                found.add(_squeeze(ast.unparse(part)))
        if not isinstance(node, (ast.For, ast.While, ast.If, ast.With)):
            found.add(_squeeze(ast.unparse(node)))
    trivial = r"[\w.]+|return[\w.]*|[\w.]+\(\)"   # a name, a number, a call without arguments (loss.backward())
    return {f for f in found if len(f) >= 6 and not re.fullmatch(trivial, f)}


def _messages(check, answer, tries=6):
    checks.reset_tries()
    return [check(answer).message for _ in range(tries)]


def _all_wrong_answers():
    for path in SOLUTION_FILES:
        for name, wrong in load(path).WRONG.items():
            for i, w in enumerate(wrong):
                yield pytest.param(path.stem, name, hinted(w)[0], id=f"{path.stem}.{name}.wrong[{i}]")
    for stem, name, answer, label, _kind in SHORTCUTS:
        yield pytest.param(stem, name, answer, id=f"{stem}.{name}.{label}")


def test_the_fragments_of_a_solution_are_found():
    assert "torch.where(z>0,z,0.01*z)" in solution_fragments("nb01", "leaky_relu")
    assert "(3,0.1)" in solution_fragments("nb03", "small_corpus")
    assert not any("z=w*x+b" in f for f in solution_fragments("nb02", "chain_rule"))    # given in the exercise


# --- shortcuts: reference routes (refused), copies and constants (rejected) --------------------------------

NOTEBOOKS = {p.name[:2]: p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def notebook_space(number, *names, student=""):
    """A namespace as the notebook's kernel has it: the notebook's own definitions `names` (taken from its code
    cells), and a student's function defined after them (in `student`, source code)."""
    space = {"__name__": "__main__", "math": math, "torch": torch, "nn": nn, "F": F}
    cells = [c for c in json.loads(NOTEBOOKS[number].read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    for cell in cells:
        source = "".join(cell["source"])
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
                exec(compile(ast.Module([node], []), f"<notebook {number}>", "exec"), space)
    exec(student, space)
    return space


def _student(number, names, source, fn):
    return notebook_space(number, *names, student=source)[fn]


def _autograd_chain(w, x, b, t, f, df):
    w_ = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    L = (torch.tanh(w_ * x + b) - t) ** 2
    L.backward()
    return 1.0, 1.0, w_.grad.item()


def _grad_chain(w, x, b, t, f, df):
    w_ = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    return 1.0, 1.0, torch.autograd.grad((torch.tanh(w_ * x + b) - t) ** 2, w_)[0].item()


def _func_grad_chain(w, x, b, t, f, df):
    return 1.0, 1.0, torch.func.grad(lambda v: (torch.tanh(v * x + b) - t) ** 2)(torch.tensor(w)).item()


def _engine_chain(w, x, b, t, f, df):
    w_ = Value(w)
    L = ((w_ * x + b).tanh() - t) ** 2
    L.backward()
    return 1.0, 1.0, w_.grad


def _c16_chain(w, x, b, t, f, df):                     # notebook 02's cell, sigmoid and all
    z = w * x + b
    y = 1 / (1 + math.exp(-z))
    return 2 * (y - t), y * (1 - y), x


def _autograd_linear(X, W, dY):
    X, W = X.clone().requires_grad_(), W.clone().requires_grad_()
    b = torch.zeros(W.shape[0], dtype=W.dtype, requires_grad=True)
    (X @ W.T + b).backward(dY)
    return X.grad, W.grad, b.grad


def _rnn_cell_route(x_t, h_prev, W, b_h):
    cell = nn.RNNCell(x_t.shape[1], h_prev.shape[1])
    with torch.no_grad():
        H = h_prev.shape[1]
        cell.weight_hh.copy_(W[:, :H])
        cell.weight_ih.copy_(W[:, H:])
        cell.bias_ih.copy_(b_h)
        cell.bias_hh.zero_()
    return cell(x_t, h_prev)


def _clip_by_torch(grads, max_norm):
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params], norm


def _clip_by_lmutils(grads, max_norm):
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    norm = optim.clip_grad_norm(params, max_norm)
    return [p.grad for p in params], norm


def _gru_route(module):
    def step(x_t, h, W_ih, W_hh, b_ih, b_hh):
        gru = module(x_t.shape[1], h.shape[1]) if module is nn.GRUCell else module(x_t.shape[1], h.shape[1],
                                                                                      batch_first=True)
        with torch.no_grad():
            for name, value in (("weight_ih", W_ih), ("weight_hh", W_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
                getattr(gru, name + ("_l0" if module is nn.GRU else "")).copy_(value)
        return gru(x_t, h) if module is nn.GRUCell else gru(x_t[:, None], h[None])[0][:, 0]
    return step


def _lstm_to_torch_route(lstm, W, b):
    n = lstm.hidden_size
    p = {}
    for k, g in enumerate("fico"):
        rows = slice(k * n, (k + 1) * n)
        p.update({f"W_h{g}": W[rows, :n], f"W_x{g}": W[rows, n:], f"b_{g}": b[rows]})
    rec.lstm_params_to_torch(p, lstm)


def _mha_route(Q, K, V, blocked):
    *lead, T_q, d = Q.shape
    mha = nn.MultiheadAttention(d, 1, bias=False, batch_first=True, kdim=d, vdim=V.shape[-1])
    return mha(Q.reshape(-1, T_q, d), K.reshape(-1, K.shape[-2], d), V.reshape(-1, *V.shape[-2:]),
               attn_mask=blocked)[0]


def _sdpa_cached(q, kn, vn, kp, vp):
    k, v = torch.cat([kp, kn], 2), torch.cat([vp, vn], 2)
    allowed = torch.arange(k.size(2)) <= kp.size(2) + torch.arange(q.size(2))[:, None]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), k, v


def _lmutils_cached(q, kn, vn, kp, vp):
    k, v = torch.cat([kp, kn], 2), torch.cat([vp, vn], 2)
    allowed = torch.arange(k.size(2)) <= kp.size(2) + torch.arange(q.size(2))[:, None]
    return scaled_dot_product_attention(q, k, v, mask=allowed), k, v


def _kvcache_cached(q, kn, vn, kp, vp):
    cache = KVCache()
    cache.extend(kp, vp)
    k, v = torch.cat([cache.k, kn], 2), torch.cat([cache.v, vn], 2)
    allowed = torch.arange(k.size(2)) <= kp.size(2) + torch.arange(q.size(2))[:, None]
    S = (q @ k.transpose(-2, -1) / q.size(-1) ** 0.5).masked_fill(~allowed, float("-inf"))
    return S.softmax(-1) @ v, k, v


def _transformer_layer(b, x):
    C = x.shape[-1]
    layer = nn.TransformerEncoderLayer(C, b.attn.n_head, 4 * C, dropout=0.0, batch_first=True)
    return layer.eval()(x)


def _c34_accumulate(model, x, y, k):                    # notebook 08's cell, renamed
    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        (lm_loss(model(xm), ym) / k).backward()


def _lora_by_module(x, W, b, A, B, alpha):
    base = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        base.weight.copy_(W)
        base.bias.copy_(b)
    lora = LoRALinear(base, rank=A.shape[0], alpha=alpha)
    with torch.no_grad():
        lora.A.copy_(A)
        lora.B.copy_(B)
    return lora(x)


def _lora_count_by_building(L, C, r, k):
    body = GPT(GPTConfig(65, block_size=16, n_layer=L, n_head=1, n_embd=C))
    add_lora(body, rank=r)
    return trainable_params(GPTClassifier(body, k))


def _rms_by_module(x, w, eps):
    norm = nn.RMSNorm(x.size(-1), eps=eps)
    with torch.no_grad():
        norm.weight.copy_(w)
    return norm(x)


def _table_of_positions(T, d, base):                    # the shortcut: one table, precomputed
    return sinusoidal_positions(40, 24)[:T, :d]


SHORTCUTS = [
    # 01
    ("nb01", "leaky_relu", lambda z: F.leaky_relu(z, 0.01), "F.leaky_relu", "refused"),
    ("nb01", "leaky_relu", nn.LeakyReLU(0.01), "nn.LeakyReLU", "refused"),
    ("nb01", "leaky_relu", lambda z: F.rrelu(z, 0.01, 0.01), "F.rrelu (issue)", "refused"),
    ("nb01", "leaky_relu", lambda z: F.prelu(z, torch.tensor([0.01])), "F.prelu (issue)", "refused"),
    ("nb01", "leaky_relu", lambda z: torch._C._nn.leaky_relu(z, 0.01), "torch._C._nn", "refused"),
    ("nb01", "leaky_relu", lambda z: torch.clamp(z, min=0), "copy of c10's relu", "rejected"),
    ("nb01", "step_weights", lambda x0, slope: (4.0, -8.0), "the old constant (4, -8)", "rejected"),
    ("nb01", "xor_network", lambda x1, x2, neuron: neuron(neuron(x1, x2, 1.0, 1.0, -0.5),
                                                          neuron(x1, x2, -1.0, -1.0, 1.5), 1.0, 1.0, -1.5),
     "c23's gate weights as they are", "rejected"),
    ("nb01", "accuracy", lambda X, t, w, b: ((torch.sigmoid(X @ w + b) > 0.5).long() == t).float().mean(),
     "copy of c30 (the trap)", "rejected"),
    ("nb01", "new_points", (1.0, 0.3, 0.5), "c17's weights", "rejected"),
    # 02
    ("nb02", "chain_rule", _autograd_chain, "backward()", "refused"),
    ("nb02", "chain_rule", _grad_chain, "torch.autograd.grad", "refused"),
    ("nb02", "chain_rule", _func_grad_chain, "torch.func.grad", "refused"),
    ("nb02", "chain_rule", _engine_chain, "lmutils.engine", "refused"),
    ("nb02", "chain_rule", _student("02", ("Value",), "def chain(w, x, b, t, f, df):\n    v = Value(w)\n"
                                    "    return 1.0, 1.0, v.data\n", "chain"), "the notebook's Value", "refused"),
    ("nb02", "chain_rule", _c16_chain, "copy of c16", "rejected"),
    ("nb02", "chain_rule", lambda w, x, b, t, f, df: (-1.0, 1.0, 2.0), "the old constant's pieces", "rejected"),
    ("nb02", "value_sin", lambda v: v._make(math.tanh(v.data), "sin", [(v, 1 - math.tanh(v.data) ** 2)]),
     "copy of c24's tanh", "rejected"),
    ("nb02", "linear_backward", _autograd_linear, "autograd", "refused"),
    ("nb02", "linear_backward", lambda X, W, dY: (dY @ W, *reversed(list(mlp_backward(
        {"W1": W.T, "b1": torch.zeros(W.shape[0]), "W2": torch.eye(W.shape[0]), "b2": torch.zeros(W.shape[0])},
        (X, X), dY, torch.zeros(len(X), dtype=torch.long)).values())[:2])), "lmutils.mlp.backward", "refused"),
    ("nb02", "linear_backward", _student("02", ("backward",), "def lb(X, W, dY):\n    return backward({}, X, X, dY, "
                                         "None)\n", "lb"), "the notebook's backward", "refused"),
    ("nb02", "linear_backward", lambda X, W, dY: (dY @ W.T, X.T @ dY, dY.sum(0)), "copy of c39", "rejected"),
    ("nb02", "one_step_lr", lambda p, q: 0.1, "the old constant 0.1", "rejected"),
    ("nb02", "optimizer_race", dict(optimizer="SGD", lr=0.5), "c52's SGD", "rejected"),
    # 03
    ("nb03", "perplexity_from_probs", lambda p: perplexity(-p.log().mean().item()), "lmutils.ngram", "refused"),
    ("nb03", "add_alpha", lambda N, a: (N.double() + a) / (N.sum(1, keepdim=True) + a * N.shape[1]),
     "copy of c42", "rejected"),
    ("nb03", "make_windows", lambda ids, T, s: windows(ids, T, s), "lmutils.data.windows", "refused"),
    ("nb03", "make_windows", lambda ids, T, s: (ids[:-1].unfold(0, T, s), ids[1:].unfold(0, T, s)), "Tensor.unfold",
     "refused"),
    ("nb03", "make_windows", lambda ids, T, s: windows(ids, T), "windows without the stride", "refused"),
    ("nb03", "per_token_mean", lambda m, n: m.mean(), "copy of c74's mean over pieces", "rejected"),
    ("nb03", "small_corpus", (5, 0.03), "c59's 5-gram", "rejected"),
    # 04
    ("nb04", "rnn_step", _student("04", ("rnn_step",), "def step(x_t, h_prev, W, b_h):\n    H = h_prev.shape[1]\n"
                                  "    return rnn_step(x_t, h_prev, W[:, H:], W[:, :H], b_h)\n", "step"),
     "the notebook's rnn_step", "refused"),
    ("nb04", "rnn_step", _rnn_cell_route, "nn.RNNCell", "refused"),
    ("nb04", "rnn_step", lambda x_t, h, W, b: torch.rnn_tanh_cell(x_t, h, W[:, h.shape[1]:], W[:, :h.shape[1]], b,
                                                                  torch.zeros_like(b)), "torch.rnn_tanh_cell",
     "refused"),
    ("nb04", "rnn_step", lambda x_t, h, W, b: rec.rnn_forward(x_t[:, None], h, W[:, h.shape[1]:], W[:, :h.shape[1]],
                                                              b)[:, 0], "lmutils.recurrent", "refused"),
    ("nb04", "rnn_lm_params", lambda V, E, H, L: sum(p.numel() for p in nn.modules.rnn.RNN(E, H, L).parameters())
     + V * E + H * V + V, "nn.modules.rnn.RNN (issue)", "refused"),
    ("nb04", "rnn_lm_params", lambda V, E, H, L: num_params(RNNLM(RNNConfig(V, E, H, L))), "RNNLM", "refused"),
    ("nb04", "rnn_lm_params", lambda V, E, H, L: num_params(type(RNNLM(RNNConfig(65)))(RNNConfig(V, E, H, L))),
     "type(model)(config)", "refused"),
    ("nb04", "rnn_lm_params", lambda V, E, H, L: 103_297, "the notebook's count", "rejected"),
    ("nb04", "clip", _clip_by_lmutils, "lmutils.optim.clip_grad_norm (issue)", "refused"),
    ("nb04", "clip", _clip_by_torch, "clip_grad_norm_", "refused"),
    ("nb04", "clip", lambda grads, m: ([g * min(1.0, m / g.norm().item()) for g in grads],
                                       torch.sqrt(sum((g ** 2).sum() for g in grads))), "copy of c21", "rejected"),
    ("nb04", "fit_accum", lambda model, ids, cfg: fit(model, ids, ids, cfg, report=Reporter()).train_loss,
     "fit", "refused"),
    ("nb04", "fit_accum", _student("04", ("my_fit",), "def mine(model, ids, cfg):\n    return my_fit(model, ids, "
                                   "cfg)[0]\n", "mine"), "the notebook's my_fit", "refused"),
    ("nb04", "learning_rate", 5e-4, "a timid rate", "rejected"),
    # 05
    ("nb05", "gru_step", _gru_route(nn.GRUCell), "nn.GRUCell", "refused"),
    ("nb05", "gru_step", _gru_route(nn.GRU), "nn.GRU", "refused"),
    ("nb05", "gru_step", lambda x, h, Wi, Wh, bi, bh: torch.gru_cell(x, h, Wi, Wh, bi, bh), "torch.gru_cell",
     "refused"),
    ("nb05", "gru_step", lambda x, h, Wi, Wh, bi, bh: torch._VF.gru_cell(x, h, Wi, Wh, bi, bh), "torch._VF",
     "refused"),
    ("nb05", "gru_step", lambda x, h, Wi, Wh, bi, bh: torch.sigmoid(h @ Wh[:h.shape[1]].T) * h, "an LSTM-ish guess",
     "rejected"),
    ("nb05", "load_seeds_lstm", _lstm_to_torch_route, "lmutils.recurrent.lstm_params_to_torch", "refused"),
    ("nb05", "forget_bias", lambda p, k: 4.97, "the old constant 4.97", "rejected"),
    ("nb05", "long_memory", dict(forget_bias=0.0, learning_rate=3e-2), "PyTorch's initialisation", "rejected"),
    # 06
    ("nb06", "attention", _student("06", ("attention",), "def mine(Q, K, V, blocked):\n    return attention(Q, K, V, "
                                   "~blocked)[0].nan_to_num(0)\n", "mine"), "the notebook's attention (issue)",
     "refused"),
    ("nb06", "attention", lambda Q, K, V, b: F.scaled_dot_product_attention(Q, K, V, attn_mask=~b), "F.sdpa",
     "refused"),
    ("nb06", "attention", lambda Q, K, V, b: scaled_dot_product_attention(Q, K, V, mask=~b), "lmutils sdpa",
     "refused"),
    ("nb06", "attention", _mha_route, "nn.MultiheadAttention", "refused"),
    ("nb06", "attention", lambda Q, K, V, b: (Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))).masked_fill(
        b, float("-inf")).softmax(-1) @ V, "copy of c6 with the mask flipped", "rejected"),
    ("nb06", "score_scale", lambda d, sq, sk: 1 / math.sqrt(d), "c9's 1/√d_k", "rejected"),
    ("nb06", "split_qkv", lambda qkv, h: tuple(MultiHeadAttention(qkv.shape[-1] // 3, h).split_heads(t)
                                               for t in qkv.split(qkv.shape[-1] // 3, -1)), "split_heads", "refused"),
    ("nb06", "split_qkv", lambda qkv, h: tuple(qkv.view(qkv.shape[0], qkv.shape[1], h, -1).transpose(1, 2)
                                               .chunk(3, -1)), "copy of c23's split", "rejected"),
    ("nb06", "positional_encoding", lambda T, d, base: sinusoidal_positions(T, d, base), "sinusoidal_positions",
     "refused"),
    ("nb06", "positional_encoding", lambda T, d, base: PositionalEncoding(d, 0.0, T).pe[0, :T], "PositionalEncoding",
     "refused"),
    ("nb06", "positional_encoding", _table_of_positions, "one precomputed table (issue)", "rejected"),
    ("nb06", "word_order", dict(positions="none", learning_rate=3e-2), "no positions", "rejected"),
    # 07
    ("nb07", "gpt_params", lambda V, T, L, C, bias: num_params(type(GPT(GPTConfig(65, 8, 1, 1, 8)))(
        GPTConfig(V, T, L, 1, C, bias=bias))), "type(gpt)(GPTConfig(...)) (issue)", "refused"),
    ("nb07", "gpt_params", lambda V, T, L, C, bias: sum(p.numel() for p in GPT(GPTConfig(V, T, L, 1, C, bias=bias))
                                                        .parameters()), "GPT", "refused"),
    ("nb07", "gpt_params", lambda V, T, L, C, bias: 418_560, "the notebook's count", "rejected"),
    ("nb07", "post_norm_block", lambda b, x: b(x), "b(x)", "refused"),
    ("nb07", "post_norm_block", lambda b, x: Block.forward(b, x), "Block.forward", "refused"),
    ("nb07", "post_norm_block", _transformer_layer, "nn.TransformerEncoderLayer", "refused"),
    ("nb07", "top_k", lambda logits, k: next_token_probs(logits, top_k=k), "next_token_probs", "refused"),
    ("nb07", "top_p", lambda logits, p: next_token_probs(logits, top_p=p), "next_token_probs", "refused"),
    ("nb07", "context_length", 128, "the whole context", "rejected"),
    # 08
    ("nb08", "lr_schedule", lambda step, hi, lo, w, end: lr_at(step, TrainConfig(
        learning_rate=hi, min_lr=lo, warmup_iters=w, lr_decay_iters=end, max_iters=end)), "lr_at", "refused"),
    ("nb08", "lr_schedule", lambda step, hi, lo, w, end: torch.optim.lr_scheduler.CosineAnnealingLR(
        torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=hi), end).get_last_lr()[0], "a torch scheduler",
     "refused"),
    ("nb08", "param_groups", lambda m, wd: make_optimizer(m, TrainConfig(weight_decay=wd), torch.device("cpu"))
     .param_groups, "make_optimizer", "refused"),
    ("nb08", "accumulate", _c34_accumulate, "copy of c34", "rejected"),
    ("nb08", "accumulate", lambda model, x, y, k: train_step(model, None, None, 0.0, None, k, None, None),
     "train_step", "refused"),
    ("nb08", "model_flops_utilisation", lambda model, B, k, s, peak: mfu(model.flops_per_token(),
                                                                         B * k * model.block_size / s, peak),
     "flops_per_token and mfu", "refused"),
    ("nb08", "loss_scale", (16, 16), "GradScaler's start, alone", "rejected"),
    # 09
    ("nb09", "lora_forward", _lora_by_module, "LoRALinear", "refused"),
    ("nb09", "lora_forward", lambda x, W, b, A, B, alpha: x @ W.T + b + 1.0 * F.linear(F.linear(x, A), B),
     "c32's forward, scale 1", "rejected"),
    ("nb09", "lora_params", _lora_count_by_building, "add_lora + trainable_params", "refused"),
    ("nb09", "lora_params", lambda L, C, r, k: 11_842, "the notebook's count", "rejected"),
    ("nb09", "mean_pool", lambda h, mask: (h * mask[..., None]).sum(1) / mask.shape[1], "divided by T",
     "rejected"),
    ("nb09", "lora_finetune", dict(rank=4, learning_rate=3e-4), "full fine-tuning's rate", "rejected"),
    # 10
    ("nb10", "pair_counts", lambda ids: dict(pair_counts(ids)), "lmutils.bpe.pair_counts", "refused"),
    ("nb10", "pair_counts", lambda ids: dict(Counter(zip(ids, ids[1:]))) if len(ids) < 10 else {}, "half a job",
     "rejected"),
    ("nb10", "merge", lambda ids, pair, new_id: merge(ids, pair, new_id), "lmutils.bpe.merge", "refused"),
    ("nb10", "bits_per_char", lambda n, t, c: bits_per_char(n, t, c), "lmutils.bpe.bits_per_char", "refused"),
    ("nb10", "cached_attention", _lmutils_cached, "lmutils sdpa (issue)", "refused"),
    ("nb10", "cached_attention", _sdpa_cached, "F.sdpa", "refused"),
    ("nb10", "cached_attention", _kvcache_cached, "KVCache.extend", "refused"),
    ("nb10", "bpe_bigram", dict(merges=0, alpha=1.0), "characters", "rejected"),
    # 11
    ("nb11", "rms_norm", lambda x, w, eps: F.rms_norm(x, (x.size(-1),), w, eps), "F.rms_norm", "refused"),
    ("nb11", "rms_norm", lambda x, w, eps: _rms_by_module(x, w, eps), "nn.RMSNorm", "refused"),
    ("nb11", "rms_norm", lambda x, w, eps: modern.rms_norm(x, w, eps), "lmutils.modern.rms_norm", "refused"),
    ("nb11", "repeat_kv", lambda k, n: modern.repeat_kv(k, n), "lmutils.modern.repeat_kv", "refused"),
    ("nb11", "kv_cache_bytes", lambda L, h, d, T, B, b: 2 * L * h * d * T * B * b if L < 2 else 0, "half a job",
     "rejected"),
    ("nb11", "ns_steps", dict(steps=5, a=3.4445, b=-4.7750, c=2.0315), "torch's default", "rejected"),
    # 12
    ("nb12", "mask_prompt", lambda ids, n: scored(ids[:n], ids[n:]), "lmutils.chat.scored", "refused"),
    ("nb12", "sequence_logprob", lambda logits, t: -F.cross_entropy(logits.transpose(1, 2), t, reduction="none")
     .mean(-1), "a mean over every position", "rejected"),
    ("nb12", "dpo_loss", lambda pc, pr, rc, rr, beta: chat_dpo_loss(pc, pr, rc, rr, beta), "lmutils.chat.dpo_loss",
     "refused"),
    ("nb12", "kl", lambda p, q: F.kl_div(q.log_softmax(-1), p.log_softmax(-1), log_target=True, reduction="none")
     .sum(-1), "F.kl_div", "refused"),
    ("nb12", "sft_learning_rate", dict(learning_rate=1e-3), "the recipe's rate, in 30 steps", "rejected"),
]


@pytest.mark.parametrize("stem, name, answer, label, kind", SHORTCUTS,
                         ids=[f"{s[0]}.{s[1]}[{s[3]}]" for s in SHORTCUTS])
def test_shortcuts_fail(stem, name, answer, label, kind):
    feedback = checkers(stem)[name](answer)
    assert not feedback.ok, f"{label} passed"
    assert "could not be checked" not in feedback.message, feedback.message
    if kind == "refused":
        assert "don't" in feedback.message, feedback.message


def test_every_exercise_has_shortcut_tests():
    covered = {f"{s[0]}.{s[1]}" for s in SHORTCUTS}
    every = {f"{p.stem}.{name}" for p in SOLUTION_FILES for name in load(p).SOLUTIONS}
    assert every - covered == set()


@pytest.mark.parametrize("stem, name, answer", list(_all_wrong_answers()))
def test_no_hint_hands_over_the_solution(stem, name, answer):
    """Six wrong tries in a row: no hint, at any level, contains a piece of the reference solution's code."""
    fragments = solution_fragments(stem, name)
    for level, message in enumerate(_messages(checkers(stem)[name], answer)):
        squeezed = _squeeze(message)
        leaked = [f for f in fragments if f in squeezed]
        assert not leaked, f"try {level + 1} gives the solution away: {leaked} in {message!r}"


def test_the_references_work_again_after_the_check():
    for stem, name, answer, label, _kind in SHORTCUTS:
        if label in ("F.leaky_relu", "F.sdpa", "b(x)", "RNNLM", "lr_at"):
            checkers(stem)[name](answer)
    assert torch.equal(F.leaky_relu(torch.tensor([-1.0]), 0.01), torch.tensor([-0.01]))
    q = torch.ones(1, 2, 4)
    assert torch.allclose(F.scaled_dot_product_attention(q, q, q), scaled_dot_product_attention(q, q, q))
    assert causal_mask(2).tolist() == [[True, False], [True, True]]
    assert Block.forward.__name__ == "forward" and math.isfinite(lr_at(0, TrainConfig()))
    assert num_params(RNNLM(RNNConfig(5, 2, 3))) > 0 and nn.Linear(2, 2).weight.shape == (2, 2)


@pytest.mark.parametrize("number", sorted(NOTEBOOKS), ids=lambda n: f"notebook {n}")
def test_each_notebook_calls_every_checker_of_its_exercises(number):
    """The Exercises section runs every checker of lmutils.course.checks.nbNN, and tells how to see a solution."""
    cells = json.loads(NOTEBOOKS[number].read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for name in checkers(f"nb{number}"):
        assert f"check.{name}(" in code, f"notebook {number} never calls check.{name}"
    assert "show_solution(" in text, f"notebook {number}'s Exercises section should say how to see a solution"
