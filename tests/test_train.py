import math

import pytest
import torch

from lmutils.data import CharTokenizer
from lmutils.models import GPT, GPTConfig, LSTMConfig, LSTMLM
from lmutils.train import (CheckpointError, TrainConfig, evaluate, fit, lm_loss, load_checkpoint, load_model,
                           lr_at, make_optimizer, restore_model, save_checkpoint)


def gpt(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=32) | kw
    return GPT(GPTConfig(**cfg))


def quick(**kw):
    base = dict(max_iters=60, batch_size=8, block_size=16, eval_interval=20, eval_iters=4, log_interval=10,
                learning_rate=1e-2)
    return TrainConfig(**(base | kw))


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(max_iters=100, learning_rate=1.0, min_lr=0.1, warmup_iters=10)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    assert lr_at(55, cfg) == pytest.approx(0.55)  # half way down the cosine
    assert lr_at(100, cfg) == lr_at(500, cfg) == pytest.approx(0.1)


def test_weight_decay_only_on_matrices():
    model = gpt()
    decay, no_decay = make_optimizer(model, TrainConfig(), torch.device("cpu")).param_groups
    assert all(p.dim() >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(p.dim() == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        TrainConfig(dtype="fp8")
    with pytest.raises(ValueError, match="unknown training setting.*max_iter\\b"):
        TrainConfig.from_dict({"max_iter": 5})


def test_fit_learns(tiny_ids):
    model = gpt()
    history = fit(model, tiny_ids, tiny_ids, quick(), device="cpu", progress=False, plot=False, quiet=True)
    assert history.eval_steps == [0, 20, 40, 60]
    assert history.eval_val[-1] < 0.5 * history.eval_val[0]
    assert history.steps[-1] == 60 and len(history.train_loss) == 6
    assert history.tokens == 60 * 8 * 16 and history.tokens_per_s > 0


def test_fit_trains_recurrent_models(tiny_ids):
    torch.manual_seed(0)
    model = LSTMLM(LSTMConfig(vocab_size=12, n_embd=16, n_hidden=32))
    history = fit(model, tiny_ids, tiny_ids, quick(), device="cpu", progress=False, plot=False, quiet=True)
    assert history.eval_val[-1] < 0.8 * history.eval_val[0]


def test_bf16_autocast_path_runs_on_cpu(tiny_ids):
    # the GPU presets' mixed-precision path, exercised where CI can run it
    fp32 = fit(gpt(), tiny_ids, tiny_ids, quick(), device="cpu", progress=False, plot=False, quiet=True)
    bf16 = fit(gpt(), tiny_ids, tiny_ids, quick(dtype="bfloat16"), device="cpu", progress=False, plot=False,
               quiet=True)
    assert bf16.eval_val[-1] < 0.5 * bf16.eval_val[0]
    assert bf16.eval_val[-1] == pytest.approx(fp32.eval_val[-1], rel=0.05)
    assert bf16.eval_val != fp32.eval_val  # autocast really was on


def test_evaluate_is_the_mean_per_token(tiny_ids):
    model = gpt().eval()
    ids = tiny_ids[:16 * 5 + 1]
    x, y = ids[:-1].view(5, 16), ids[1:].view(5, 16)
    expected = lm_loss(model(x), y).item()
    # batch sizes that do not divide the windows evenly must not change the answer
    assert evaluate(model, ids, 16, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert evaluate(model, ids, 16, batch_size=5) == pytest.approx(expected, rel=1e-6)


def test_evaluate_counts_the_tail_shorter_than_a_window(tiny_ids):
    model = gpt().eval()
    ids = tiny_ids[:16 * 5 + 7 + 1]  # five full windows and a tail of 7 targets
    x, y = ids[:80].view(5, 16), ids[1:81].view(5, 16)
    full = lm_loss(model(x), y, reduction="sum")
    tail = lm_loss(model(ids[80:-1][None]), ids[81:][None], reduction="sum")
    expected = ((full + tail) / (80 + 7)).item()
    assert evaluate(model, ids, 16, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert evaluate(model, ids, 16) != pytest.approx(evaluate(model, ids[:81], 16), rel=1e-6)


def test_untrained_loss_is_about_log_vocab(tiny_ids):
    assert evaluate(gpt(), tiny_ids, 16) == pytest.approx(math.log(12), rel=0.05)


def test_resume_continues_exactly(tiny_ids, tmp_path):
    straight = gpt()
    fit(straight, tiny_ids, tiny_ids, quick(), device="cpu", progress=False, plot=False, quiet=True)

    path = tmp_path / "run.pt"
    interrupted = gpt()
    fit(interrupted, tiny_ids, tiny_ids, quick(max_iters=60, checkpoint=str(path), checkpoint_interval=20),
        device="cpu", progress=False, plot=False, quiet=True)
    state = load_checkpoint(path)
    assert state["step"] == 60
    # now pretend the run died after step 40: rebuild from the step-40 checkpoint and finish
    path40 = tmp_path / "run40.pt"
    half = gpt()
    fit(half, tiny_ids, tiny_ids, quick(max_iters=40, lr_decay_iters=60, checkpoint=str(path40)),
        device="cpu", progress=False, plot=False, quiet=True)
    resumed = gpt(seed=123)  # different initial weights: everything must come from the checkpoint
    history = fit(resumed, tiny_ids, tiny_ids, quick(lr_decay_iters=60, checkpoint=str(path40)), device="cpu",
                  progress=False, plot=False, quiet=True)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert history.eval_steps == [0, 20, 40, 60]  # the step-40 evaluation is not repeated


def test_checkpoint_is_atomic_and_round_trips(tiny_ids, tmp_path):
    model = gpt()
    tok = CharTokenizer.from_text("abcdefghijkl")
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, tokenizer=tok)
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.pt"]  # no temporary file left behind
    again, tok2 = load_model(path)
    x = tiny_ids[:16][None]
    assert torch.equal(model.eval()(x), again(x))
    assert tok2.itos == tok.itos


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    path = save_checkpoint(tmp_path / "m.pt", gpt())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(truncated)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not an lmutils checkpoint"):
        load_checkpoint(other)
    with pytest.raises(CheckpointError, match=r"n_embd=32 \(this model: 64\)"):
        restore_model(load_checkpoint(path), gpt(n_embd=64))
    with pytest.raises(CheckpointError, match="a gpt model"):
        restore_model(load_checkpoint(path), LSTMLM(LSTMConfig(vocab_size=12)))


def test_out_of_memory_says_which_setting_to_lower(tiny_ids, monkeypatch):
    model = gpt()

    def boom(*a, **k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(model, "forward", boom)
    with pytest.raises(RuntimeError, match="Lower batch_size"):
        fit(model, tiny_ids, tiny_ids, quick(), device="cpu", progress=False, plot=False, quiet=True)
