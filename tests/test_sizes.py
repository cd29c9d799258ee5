"""Every notebook's sizes (lmutils.course.sizes), the GPU ones included, build their models and train for two steps
on CPU: a typo in a GPU-only setting fails here instead of in a student's Colab session."""

from dataclasses import replace

import pytest
import torch

from fake_devices import GPUS, faked
from lmutils.course.sizes import SIZES, is_run, run_of, sizes
from lmutils.device import autocast_dtype
from lmutils.models import MODELS, GPTConfig
from lmutils.presets import get_preset
from lmutils.progress import Reporter
from lmutils.run import Run, split_settings
from lmutils.train import fit


def choice(machine: str) -> str:
    """The autocast dtype the device table gives a faked machine, by name (fp16 means with a GradScaler in fit)."""
    with faked(machine) as device:
        dtype = autocast_dtype(device)
    return {None: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[dtype]


# a GPU entry trains, on CPU, with every precision the device table gives a GPU (fp16 + GradScaler on a T4, bf16 on
# an A100); a CPU entry with the CPU's float32
CHOICES = {"gpu": sorted({choice(m) for m in GPUS}), "cpu": sorted({choice("CPU"), choice("MPS")})}
CASES = [(nb, kind, key, dtype) for nb, table in SIZES.items() for kind in table for key, v in table[kind].items()
         if is_run(v) for dtype in CHOICES[kind]]


def test_gpus_train_in_fp16_or_bf16_and_cpus_in_fp32():
    assert CHOICES == {"gpu": ["bfloat16", "float16"], "cpu": ["float32"]}


def test_every_notebook_has_a_cpu_and_a_gpu_entry_with_the_same_keys():
    for nb, table in SIZES.items():
        assert set(table) == {"cpu", "gpu"}, nb
        assert set(table["cpu"]) == set(table["gpu"]), nb
        assert {k for k, v in table["cpu"].items() if is_run(v)} == {k for k, v in table["gpu"].items() if is_run(v)}


@pytest.mark.parametrize("nb, kind, key, dtype", CASES, ids=[f"{n}-{k}-{m}-{d}" for n, k, m, d in CASES])
def test_two_steps_at_these_sizes(nb, kind, key, dtype):
    run = run_of(SIZES[nb][kind][key])
    model_cls, config_cls = MODELS[SIZES[nb][kind][key].get("model", "gpt")]
    torch.manual_seed(0)
    vocab = 40
    net = model_cls(config_cls(vocab_size=vocab, **run.model))
    cfg = run.train
    assert kind == "cpu" or cfg.dtype != "bfloat16", "a GPU entry that asks for bf16 fails on a T4: leave it 'auto'"
    # two steps of a small batch in the device's precision, every other setting (clipping, warm-up) as the notebook
    # has it; compile off: Inductor takes minutes on a CPU (tests/test_train_cli.py covers the compiled path).
    # A CPU computes fp16 and bf16 slowly: short windows then (the model keeps its size)
    block = cfg.block_size if dtype == "float32" else min(cfg.block_size, 32)
    cfg = replace(cfg, max_iters=2, batch_size=2, block_size=block, eval_interval=2, eval_iters=1, compile=False,
                  dtype=dtype if cfg.dtype == "auto" else cfg.dtype)
    ids = torch.randint(0, vocab, (4 * block + 2,))
    history = fit(net, ids, ids, cfg, device="cpu", report=Reporter())
    assert len(history.eval_val) == 2 and all(torch.isfinite(torch.tensor(history.eval_val)))


def test_a_run_is_written_once_and_split_as_the_command_splits():
    gpt = sizes("07", "cpu")["gpt"]
    assert isinstance(gpt, Run) and gpt.model["block_size"] == gpt.train.block_size == 128
    # 07's GPT on a CPU is the shakespeare-char-cpu preset's, trained the preset's way for 1,300 of its steps
    assert gpt == split_settings(get_preset("shakespeare-char-cpu", max_iters=1300, eval_iters=10))
    assert gpt.train.lr_decay_iters == gpt.train.max_iters == 1300
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
