"""Every notebook's sizes, the GPU ones included, build their models and train for two steps on CPU: a typo in a
GPU-only setting fails here instead of in a student's Colab session."""

from dataclasses import replace

import pytest
import torch

from fake_devices import GPUS, faked
from lmutils.device import autocast_dtype
from lmutils.models import GPT, LSTMLM, RNNLM, GPTConfig, LSTMConfig, RNNConfig
from lmutils.sizes import SIZES, sizes
from lmutils.train import TrainConfig, fit

BUILD = {"rnn": (RNNConfig, RNNLM), "lstm": (LSTMConfig, LSTMLM), "gpt": (GPTConfig, GPT), "tang_gpt": (GPTConfig, GPT)}
TRAIN = {"tang_gpt": "tang_train"}  # a model entry's training settings: "train" unless named here


def runs(entry):
    """(model key, model kwargs, train kwargs) of every model a sizes entry trains; a nested entry ("leak") has its own."""
    for key, value in entry.items():
        if key in BUILD:
            yield key, value, entry[TRAIN.get(key, "train")]
        elif isinstance(value, dict) and "train" in value:
            yield from ((f"{key}.{k}", kw, train) for k, kw, train in runs(value))


def choice(machine: str) -> str:
    """The autocast dtype the device table gives a faked machine, by name (fp16 means with a GradScaler in fit)."""
    with faked(machine) as device:
        dtype = autocast_dtype(device)
    return {None: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[dtype]


# a GPU entry trains, on CPU, with every precision the device table gives a GPU (fp16 + GradScaler on a T4, bf16 on
# an A100); a CPU entry with the CPU's float32
CHOICES = {"gpu": sorted({choice(m) for m in GPUS}), "cpu": sorted({choice("CPU"), choice("MPS")})}
CASES = [(nb, kind, model, dtype) for nb, table in SIZES.items() for kind in table
         for model, _, _ in runs(table[kind]) for dtype in CHOICES[kind]]


def test_gpus_train_in_fp16_or_bf16_and_cpus_in_fp32():
    assert CHOICES == {"gpu": ["bfloat16", "float16"], "cpu": ["float32"]}


def test_every_notebook_has_a_cpu_and_a_gpu_entry_with_the_same_keys():
    for nb, table in SIZES.items():
        assert set(table) == {"cpu", "gpu"}, nb
        assert set(table["cpu"]) == set(table["gpu"]), nb


@pytest.mark.parametrize("nb, kind, model, dtype", CASES, ids=[f"{n}-{k}-{m}-{d}" for n, k, m, d in CASES])
def test_two_steps_at_these_sizes(nb, kind, model, dtype):
    model_kw, train_kw = next((m, t) for key, m, t in runs(SIZES[nb][kind]) if key == model)
    config_cls, model_cls = BUILD[model.split(".")[-1]]
    torch.manual_seed(0)
    vocab = 40
    net = model_cls(config_cls(vocab_size=vocab, **model_kw))
    cfg = TrainConfig(**train_kw)
    block = min(cfg.block_size, getattr(net, "block_size", cfg.block_size))
    if dtype != "float32":  # a CPU computes fp16 and bf16 slowly: short windows (the model keeps its size)
        block = min(block, 32)
    # two steps of a small batch in the device's precision, every other setting (clipping, warm-up) as the notebook
    # has it; compile off: Inductor takes minutes on a CPU (tests/test_train_cli.py covers the compiled path)
    assert kind == "cpu" or cfg.dtype != "bfloat16", "a GPU entry that asks for bf16 fails on a T4: leave it 'auto'"
    if cfg.dtype == "auto":
        cfg = replace(cfg, dtype=dtype)
    cfg = replace(cfg, max_iters=2, batch_size=2, block_size=block, eval_interval=2, eval_iters=1,
                  compile=False)
    ids = torch.randint(0, vocab, (4 * block + 2,))
    history = fit(net, ids, ids, cfg, device="cpu", progress=False, quiet=True)
    assert len(history.eval_val) == 2 and all(torch.isfinite(torch.tensor(history.eval_val)))


def test_sizes_follow_the_device():
    assert sizes("04", "cpu") == SIZES["04"]["cpu"] != SIZES["04"]["gpu"]
    assert sizes("04", torch.device("cuda")) == SIZES["04"]["gpu"]


def test_an_unknown_notebook_is_a_clear_error():
    with pytest.raises(KeyError, match="no sizes for notebook '99'"):
        sizes("99", "cpu")


@pytest.mark.parametrize("name", ["shakespeare-char", "shakespeare-char-ampere", "shakespeare-char-t4",
                                  "shakespeare-char-cpu"])
def test_notebook_08s_presets_train_two_steps_with_their_own_dtype(name):
    """Notebook 08 trains preset_for(device): on a GPU one of the full-size presets, with bf16 or fp16 + GradScaler."""
    from lmutils.presets import get_preset
    from lmutils.train import split_settings

    _, model_kw, cfg = split_settings(get_preset(name, **SIZES["08"]["cpu"]["run"]))
    torch.manual_seed(0)
    net = GPT(GPTConfig(vocab_size=40, **model_kw))
    cfg = replace(cfg, max_iters=2, batch_size=2, eval_interval=2, eval_iters=1, compile=False,
                  dtype="bfloat16" if cfg.dtype == "auto" else cfg.dtype)  # "auto" is float32 on a CPU
    ids = torch.randint(0, 40, (4 * cfg.block_size + 2,))
    history = fit(net, ids, ids, cfg, device="cpu", progress=False, quiet=True)
    assert all(torch.isfinite(torch.tensor(history.eval_val)))


def test_notebook_07_trains_the_cpu_presets_gpt_with_its_recipe():
    """07's GPT on a CPU is the shakespeare-char-cpu preset's, trained the preset's way for 1,600 of its steps."""
    from lmutils.presets import get_preset
    from lmutils.train import split_settings

    entry = SIZES["07"]["cpu"]
    _, model_kw, cfg = split_settings(get_preset("shakespeare-char-cpu", max_iters=1600, eval_iters=10))
    assert GPTConfig(65, **entry["gpt"]) == GPTConfig(65, **model_kw)
    assert cfg.lr_decay_iters == cfg.max_iters  # the schedule ends with the shortened run, as TrainConfig's default
    assert TrainConfig(**entry["train"]) == replace(cfg, lr_decay_iters=None, log_interval=TrainConfig().log_interval,
                                                    dtype=TrainConfig().dtype, compile=TrainConfig().compile)


def test_sizes_gives_a_copy_that_a_notebook_may_change():
    size = sizes("07", "cpu")
    size["leak"]["gpt"]["n_embd"] = 1
    assert SIZES["07"]["cpu"]["leak"]["gpt"]["n_embd"] == SIZES["07"]["gpu"]["leak"]["gpt"]["n_embd"] == 64
