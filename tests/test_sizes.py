"""Every notebook's sizes (lmutils.course.sizes), the GPU ones included, build their models and train for two steps
on CPU: a typo in a GPU-only setting fails here instead of in a student's Colab session."""

from dataclasses import replace

import pytest
import torch

from lmutils.course.sizes import SIZES, is_run, run_of, sizes
from lmutils.models import MODELS, GPTConfig
from lmutils.presets import get_preset
from lmutils.progress import Reporter
from lmutils.run import Run, split_settings
from lmutils.train import fit

CASES = [(nb, kind, key) for nb, table in SIZES.items() for kind in table for key, v in table[kind].items()
         if is_run(v)]


def test_every_notebook_has_a_cpu_and_a_gpu_entry_with_the_same_keys():
    for nb, table in SIZES.items():
        assert set(table) == {"cpu", "gpu"}, nb
        assert set(table["cpu"]) == set(table["gpu"]), nb
        assert {k for k, v in table["cpu"].items() if is_run(v)} == {k for k, v in table["gpu"].items() if is_run(v)}


@pytest.mark.parametrize("nb, kind, key", CASES, ids=[f"{n}-{k}-{m}" for n, k, m in CASES])
def test_two_steps_at_these_sizes(nb, kind, key):
    run = run_of(SIZES[nb][kind][key])
    model_cls, config_cls = MODELS[SIZES[nb][kind][key].get("model", "gpt")]
    torch.manual_seed(0)
    vocab = 40
    net = model_cls(config_cls(vocab_size=vocab, **run.model))
    # two steps of a small batch, every other setting (dtype, clipping, warm-up) as the notebook has it; compile
    # off: Inductor takes minutes on a CPU (tests/test_train_cli.py covers the compiled path). "auto" is float32 on
    # a CPU: the GPU's mixed precision is bfloat16 here
    cfg = replace(run.train, max_iters=2, batch_size=2, eval_interval=2, eval_iters=1, compile=False,
                  dtype="bfloat16" if run.train.dtype == "auto" and kind == "gpu" else run.train.dtype)
    ids = torch.randint(0, vocab, (4 * cfg.block_size + 2,))
    history = fit(net, ids, ids, cfg, device="cpu", report=Reporter())
    assert len(history.eval_val) == 2 and all(torch.isfinite(torch.tensor(history.eval_val)))


def test_a_run_is_written_once_and_split_as_the_command_splits():
    gpt = sizes("07", "cpu")["gpt"]
    assert isinstance(gpt, Run) and gpt.model["block_size"] == gpt.train.block_size == 128
    # 07's GPT on a CPU is the shakespeare-char-cpu preset's, trained the preset's way for 1,600 of its steps
    assert gpt == split_settings(get_preset("shakespeare-char-cpu", max_iters=1600, eval_iters=10))
    assert gpt.train.lr_decay_iters == gpt.train.max_iters == 1600
    rnn = sizes("04", "cpu")["rnn"]
    assert rnn.model == dict(n_embd=64, n_hidden=256, n_layer=1) and rnn.train.block_size == 64
    with pytest.raises(ValueError, match=r"unknown setting\(s\) n_hiden"):
        run_of(dict(model="rnn", n_hiden=64, max_iters=5))
    with pytest.raises(ValueError, match=r"unknown setting\(s\) n_hidden for GPTConfig"):
        run_of(dict(model="gpt", n_hidden=64, max_iters=5))


@pytest.mark.parametrize("name", ["shakespeare-char", "shakespeare-char-ampere", "shakespeare-char-t4",
                                  "shakespeare-char-cpu"])
def test_notebook_08s_presets_train_two_steps_with_their_own_dtype(name):
    """Notebook 08 trains preset_for(device): on a GPU one of the full-size presets, with bf16 or fp16 + GradScaler."""
    _, model_kw, cfg = split_settings(get_preset(name, **SIZES["08"]["cpu"]["run"]))
    torch.manual_seed(0)
    net = MODELS["gpt"][0](GPTConfig(vocab_size=40, **model_kw))
    cfg = replace(cfg, max_iters=2, batch_size=2, eval_interval=2, eval_iters=1, compile=False,
                  dtype="bfloat16" if cfg.dtype == "auto" else cfg.dtype)  # "auto" is float32 on a CPU
    ids = torch.randint(0, 40, (4 * cfg.block_size + 2,))
    history = fit(net, ids, ids, cfg, device="cpu", report=Reporter())
    assert all(torch.isfinite(torch.tensor(history.eval_val)))


def test_sizes_follow_the_device():
    assert sizes("04", "cpu")["rnn"].model["n_hidden"] == 256
    assert sizes("04", torch.device("cuda"))["rnn"].model["n_hidden"] == 512


def test_an_unknown_notebook_is_a_clear_error():
    with pytest.raises(KeyError, match="no sizes for notebook '99'"):
        sizes("99", "cpu")


def test_sizes_gives_a_copy_that_a_notebook_may_change():
    size = sizes("09", "cpu")
    size["classify"]["lr"]["full"] = 1.0
    size["finetune"].model["n_embd"] = 1
    assert SIZES["09"]["cpu"]["classify"]["lr"]["full"] == 5e-4
    assert sizes("09", "cpu")["finetune"].model["n_embd"] == 160
