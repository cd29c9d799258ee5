"""Every notebook's sizes, the GPU ones included, build their models and train for two steps on CPU: a typo in a
GPU-only setting fails here instead of in a student's Colab session."""

from dataclasses import replace

import pytest
import torch

from lmutils.models import GPT, LSTMLM, RNNLM, GPTConfig, LSTMConfig, RNNConfig
from lmutils.sizes import SIZES, sizes
from lmutils.train import TrainConfig, fit

BUILD = {"rnn": (RNNConfig, RNNLM), "lstm": (LSTMConfig, LSTMLM), "gpt": (GPTConfig, GPT)}
CASES = [(nb, kind, model) for nb, table in SIZES.items() for kind in table for model in table[kind]
         if model in BUILD]


def test_every_notebook_has_a_cpu_and_a_gpu_entry_with_the_same_keys():
    for nb, table in SIZES.items():
        assert set(table) == {"cpu", "gpu"}, nb
        assert set(table["cpu"]) == set(table["gpu"]), nb


@pytest.mark.parametrize("nb, kind, model", CASES, ids=[f"{n}-{k}-{m}" for n, k, m in CASES])
def test_two_steps_at_these_sizes(nb, kind, model):
    entry = SIZES[nb][kind]
    config_cls, model_cls = BUILD[model]
    torch.manual_seed(0)
    vocab = 40
    net = model_cls(config_cls(vocab_size=vocab, **entry[model]))
    cfg = TrainConfig(**entry["train"])
    block = min(cfg.block_size, getattr(net, "block_size", cfg.block_size))
    # two steps of a small batch, every other setting (dtype, clipping, warm-up) as the notebook has it; compile
    # off: Inductor takes minutes on a CPU (tests/test_train_cli.py covers the compiled path)
    cfg = replace(cfg, max_iters=2, batch_size=2, block_size=block, eval_interval=2, eval_iters=1,
                  compile=False)
    ids = torch.randint(0, vocab, (4 * block + 2,))
    history = fit(net, ids, ids, cfg, device="cpu", progress=False, quiet=True)
    assert len(history.eval_val) == 2 and all(torch.isfinite(torch.tensor(history.eval_val)))


def test_sizes_follow_the_device():
    assert sizes("04", "cpu") is SIZES["04"]["cpu"]
    assert sizes("04", torch.device("cuda")) is SIZES["04"]["gpu"]


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
