"""fit(): the schedule, the optimizer, evaluation, resuming, mixed precision, torch.compile, running out of
memory."""

import functools
import math
import re

import pytest
import torch

from lmutils import train
from lmutils.checkpoint import load_checkpoint
from lmutils.models import LSTMConfig, LSTMLM
from lmutils.progress import Printer
from lmutils.train import (TrainConfig, TrainingOutOfMemory, evaluate, fit, lm_loss, lr_at, make_optimizer,
                           out_of_memory_message)


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(max_iters=100, learning_rate=1.0, min_lr=0.1, warmup_iters=10)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    assert lr_at(55, cfg) == pytest.approx(0.55)  # half way down the cosine
    assert lr_at(100, cfg) == lr_at(500, cfg) == pytest.approx(0.1)


def test_weight_decay_only_on_matrices(tiny_gpt):
    decay, no_decay = make_optimizer(tiny_gpt(), TrainConfig(), torch.device("cpu")).param_groups
    assert all(p.dim() >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(p.dim() == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        TrainConfig(dtype="fp8")
    with pytest.raises(ValueError, match="unknown training setting.*max_iter\\b"):
        TrainConfig.from_dict({"max_iter": 5})


def test_fit_learns(tiny_ids, tiny_gpt, quick, train_quietly):
    history = train_quietly(tiny_gpt(), tiny_ids, quick())
    assert history.eval_steps == [0, 20, 40, 60]
    assert history.eval_val[-1] < 0.5 * history.eval_val[0]
    assert history.steps[-1] == 60 and len(history.train_loss) == 6
    assert history.tokens == 60 * 8 * 16 and history.tokens_per_s > 0


def test_fit_trains_recurrent_models(tiny_ids, quick, train_quietly):
    torch.manual_seed(0)
    history = train_quietly(LSTMLM(LSTMConfig(vocab_size=12, n_embd=16, n_hidden=32)), tiny_ids, quick())
    assert history.eval_val[-1] < 0.8 * history.eval_val[0]


def test_bf16_autocast_path_runs_on_cpu(tiny_ids, tiny_gpt, quick, train_quietly):
    # the GPU presets' mixed-precision path, exercised where CI can run it
    fp32 = train_quietly(tiny_gpt(), tiny_ids, quick())
    bf16 = train_quietly(tiny_gpt(), tiny_ids, quick(dtype="bfloat16"))
    assert bf16.eval_val[-1] < 0.5 * bf16.eval_val[0]
    assert bf16.eval_val[-1] == pytest.approx(fp32.eval_val[-1], rel=0.05)
    assert bf16.eval_val != fp32.eval_val  # autocast really was on


def test_fp16_autocast_with_grad_scaler_on_cpu(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path):
    # the T4 preset's path: float16 autocast, and a GradScaler that is really on
    path = tmp_path / "fp16.pt"
    history = train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=30, eval_interval=10, dtype="float16",
                                                        checkpoint=str(path)))
    assert history.eval_val[-1] < 0.7 * history.eval_val[0]
    scaler = load_checkpoint(path)["scaler"]
    # the scaler took part in every step: it counted 30 steps without an overflow, or halved its scale after one
    assert scaler["_growth_tracker"] == 30 or scaler["scale"] < 2.0 ** 16
    # float32: the scaler is disabled and leaves no state behind
    train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=30, checkpoint=str(tmp_path / "fp32.pt")))
    assert load_checkpoint(tmp_path / "fp32.pt")["scaler"] == {}


def test_float32_checkpoint_resumes_in_float16(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path, capsys):
    path = str(tmp_path / "run.pt")
    train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=20, checkpoint=path))
    history = train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=30, dtype="float16", checkpoint=path),
                            report=None)
    assert history.steps[-1] == 30 and "scale" in load_checkpoint(path)["scaler"]  # a scaler that is on
    out = capsys.readouterr().out
    assert "trained without float16's gradient scaler: starting a fresh one" in out
    # and back: a float16 checkpoint resumed in float32 leaves its scaler aside
    assert train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=40, checkpoint=path)).steps[-1] == 40


def test_evaluate_is_the_mean_per_token(tiny_ids, tiny_gpt):
    model = tiny_gpt().eval()
    ids = tiny_ids[:16 * 5 + 1]
    x, y = ids[:-1].view(5, 16), ids[1:].view(5, 16)
    expected = lm_loss(model(x), y).item()
    # batch sizes that do not divide the windows evenly must not change the answer
    assert evaluate(model, ids, 16, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert evaluate(model, ids, 16, batch_size=5) == pytest.approx(expected, rel=1e-6)


def test_evaluate_counts_the_tail_shorter_than_a_window(tiny_ids, tiny_gpt):
    model = tiny_gpt().eval()
    ids = tiny_ids[:16 * 5 + 7 + 1]  # five full windows and a tail of 7 targets
    x, y = ids[:80].view(5, 16), ids[1:81].view(5, 16)
    full = lm_loss(model(x), y, reduction="sum")
    tail = lm_loss(model(ids[80:-1][None]), ids[81:][None], reduction="sum")
    expected = ((full + tail) / (80 + 7)).item()
    assert evaluate(model, ids, 16, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert evaluate(model, ids, 16) != pytest.approx(evaluate(model, ids[:81], 16), rel=1e-6)


def test_untrained_loss_is_about_log_vocab(tiny_ids, tiny_gpt):
    assert evaluate(tiny_gpt(), tiny_ids, 16) == pytest.approx(math.log(12), rel=0.05)


def test_resume_continues_exactly(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path):
    straight = tiny_gpt()
    train_quietly(straight, tiny_ids, quick())
    path = tmp_path / "run.pt"
    train_quietly(tiny_gpt(), tiny_ids, quick(checkpoint=str(path), checkpoint_interval=20))
    assert load_checkpoint(path)["step"] == 60
    # now pretend the run died after step 40: rebuild from the step-40 checkpoint and finish
    path40 = tmp_path / "run40.pt"
    train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=40, lr_decay_iters=60, checkpoint=str(path40)))
    resumed = tiny_gpt(seed=123)  # different initial weights: everything must come from the checkpoint
    history = train_quietly(resumed, tiny_ids, quick(lr_decay_iters=60, checkpoint=str(path40)))
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert history.eval_steps == [0, 20, 40, 60]  # the step-40 evaluation is not repeated


def test_resume_past_max_iters_ends_at_once(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path, capsys,
                                           monkeypatch):
    path = str(tmp_path / "run.pt")
    train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=40, checkpoint=path))
    monkeypatch.setattr(train, "train_step", lambda *a: pytest.fail("trained on past max_iters"))
    history = train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=20, checkpoint=path), report=None)
    assert history.steps[-1] == 40 and load_checkpoint(path)["step"] == 40  # the checkpoint is left as it was
    out = capsys.readouterr().out
    assert "nothing to train: the checkpoint is at step 40, past max_iters=20" in out
    assert "--max-iters" in out


def test_mfu_counts_the_training_window_not_the_models_context(tiny_ids, tiny_gpt, quick, train_quietly):
    model = tiny_gpt(block_size=64)  # could take 64 tokens, trained on windows of 16
    history = train_quietly(model, tiny_ids, quick(max_iters=10, eval_interval=10))
    assert history.flops_per_token == model.flops_per_token(16) < model.flops_per_token()


def test_compile_path(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path, monkeypatch):
    # torch.compile's code path in fit (graph capture, the compiled wrapper, checkpoints of the inner model).
    # Inductor's C++ code generation takes minutes on a small CPU, so the graphs run eagerly here.
    from lmutils.checkpoint import load_model

    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    short = dict(max_iters=30, eval_interval=10)
    eager = train_quietly(tiny_gpt(), tiny_ids, quick(**short))
    path = tmp_path / "compiled.pt"
    compiled = train_quietly(tiny_gpt(), tiny_ids, quick(**short, compile=True, checkpoint=str(path)))
    assert compiled.eval_val == pytest.approx(eager.eval_val, rel=1e-5)
    assert not any("_orig_mod" in k for k in load_checkpoint(path)["model"])
    load_model(path)  # loads into a plain, uncompiled model


def test_speed_in_evaluation_lines(tiny_ids, tiny_gpt, quick, capsys):
    cfg = quick(max_iters=20, eval_interval=10)
    fit(tiny_gpt(), tiny_ids, tiny_ids, cfg, device="cpu", report=Printer(speed=True))
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"step +0 \| train loss [\d.]+ \| val loss [\d.]+", lines[0])  # no speed before training
    assert re.fullmatch(r"step +10 \| train loss [\d.]+ \| val loss [\d.]+ \| [\d,]+ tokens/s \| MFU n/a", lines[1])
    assert re.fullmatch(r"trained 20 steps in [\d.]+ s \([\d,]+ tokens/s, MFU n/a\)", lines[-1])
    fit(tiny_gpt(), tiny_ids, tiny_ids, cfg, device="cpu")
    assert "MFU" not in capsys.readouterr().out  # other notebooks' output stays as it was


def test_out_of_memory_says_what_to_lower(tiny_ids, tiny_gpt, quick, train_quietly, monkeypatch):
    msg = out_of_memory_message(TrainConfig(batch_size=64, block_size=256))
    assert "batch_size=32, grad_accum=2" in msg and "--batch-size 32 --grad-accum 2" in msg
    assert "16,384 tokens per step" in msg and "Mixed precision" in msg
    model = tiny_gpt()
    for error in (torch.cuda.OutOfMemoryError("CUDA out of memory"), RuntimeError("MPS backend out of memory")):
        monkeypatch.setattr(model, "forward", lambda *a, error=error: (_ for _ in ()).throw(error))
        with pytest.raises(TrainingOutOfMemory, match="Lower batch_size"):
            train_quietly(model, tiny_ids, quick(max_iters=5))
    monkeypatch.setattr(model, "forward", lambda *a: (_ for _ in ()).throw(RuntimeError("shapes do not match")))
    with pytest.raises(RuntimeError, match="shapes do not match"):  # other errors pass through unchanged
        train_quietly(model, tiny_ids, quick(max_iters=5))


def test_reporters_see_every_moment_of_a_run(tiny_ids, tiny_gpt, quick, tmp_path, capsys):
    from lmutils.progress import Reporter

    class Log(Reporter):
        def __init__(self):
            self.calls = []

        def start(self, history, step, max_iters):
            self.calls.append(("start", step, max_iters))

        def logged(self, step, loss, figures):
            self.calls.append(("logged", step))

        def evaluated(self, step, train_loss, val_loss, speed):
            self.calls.append(("evaluated", step, speed is None))

        def say(self, text):
            self.calls.append(("say", text.split(":")[0]))

        def end(self, history, steps):
            self.calls.append(("end", steps))

        def close(self):
            self.calls.append(("close",))

    path = str(tmp_path / "run.pt")
    log, printed = Log(), Printer()
    fit(tiny_gpt(), tiny_ids, tiny_ids, quick(max_iters=20, eval_interval=10, checkpoint=path), device="cpu",
        report=[log, printed])
    assert log.calls == [("start", 0, 20), ("evaluated", 0, True), ("logged", 10), ("evaluated", 10, False),
                         ("logged", 20), ("evaluated", 20, False), ("end", 20), ("close",)]
    assert re.search(r"trained 20 steps in [\d.]+ s", capsys.readouterr().out)
    log.calls = []  # resumed with more steps: the summary counts this run's steps and all of them
    fit(tiny_gpt(), tiny_ids, tiny_ids, quick(max_iters=30, eval_interval=10, checkpoint=path), device="cpu",
        report=[log, Printer()])
    assert log.calls[0] == ("say", "resumed from " + path + " at step 20")
    assert log.calls[-2:] == [("end", 10), ("close",)]
    assert re.search(r"trained 10 steps in this run \(30 in all\) in [\d.]+ s", capsys.readouterr().out)
    log.calls = []  # an error: closed, but no summary
    model = tiny_gpt()
    model.forward = lambda *a: (_ for _ in ()).throw(RuntimeError("shapes do not match"))
    with pytest.raises(RuntimeError):
        fit(model, tiny_ids, tiny_ids, quick(max_iters=5), device="cpu", report=[log, Printer()])
    assert ("close",) in log.calls and not any(c[0] == "end" for c in log.calls)
    assert "trained" not in capsys.readouterr().out
