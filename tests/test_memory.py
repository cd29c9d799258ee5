"""Every notebook's GPU sizes fit Colab's free T4 with headroom, by lmutils.memory's estimate; the README lists the
figures (this file prints the table to paste when a size changes)."""

import re
from pathlib import Path

import pytest
import torch

from lmutils.attention import scaled_dot_product_attention as naive_attention
from lmutils.memory import saved_activations, training_memory
from lmutils.models import GPT, LSTMLM, RNNLM, GPTConfig, LSTMConfig, RNNConfig, num_params
from lmutils.course.sizes import SIZES, sizes
from lmutils.presets import get_preset
from lmutils.run import split_settings

ROOT = Path(__file__).resolve().parents[1]
GiB = 2**30
T4 = 15_835_398_144  # bytes: a Colab T4's memory as torch reports it ("15 GB", 14.7 GiB)
BUDGET = T4 * 2 // 3  # a third left for the CUDA context, the allocator's fragmentation and what else is alive
VOCAB = {"shakespeare": 65, "chat": 68, "tang": 6521, "bpe": SIZES["10"]["gpu"]["bpe_vocab"], "gpt2": 50257}


def lstm_like(rnn: dict, vocab: int) -> dict:
    """Notebook 05's LSTM: the width whose parameter count is closest to its RNN's."""
    target = num_params(RNNLM(RNNConfig(vocab, **rnn)))
    width = min(range(8, rnn["n_hidden"] + 1, 8), key=lambda h: abs(
        num_params(LSTMLM(LSTMConfig(vocab, rnn["n_embd"], n_hidden=h))) - target))
    return dict(rnn, n_hidden=width)


def gpu(nb, key):
    """A run of notebook nb's GPU sizes: (model settings, batch size, block size)."""
    run = sizes(nb, torch.device("cuda"))[key]
    return run.model, run.train.batch_size, run.train.block_size


def t4_preset():
    _, model, cfg = split_settings(get_preset("shakespeare-char-t4"))  # what preset_for gives a T4
    return model, cfg.batch_size, cfg.block_size


def model(cls, config, vocab, settings):
    return lambda: cls(config(VOCAB[vocab], **settings))


def run(nb, what, key, cls=GPT, config=GPTConfig, vocab="shakespeare", settings=None):
    settings_, batch, block = gpu(nb, key)
    return nb, what, model(cls, config, vocab, settings or settings_), vocab, batch, block


# what each notebook trains at its GPU sizes: (notebook, what, make the model, vocabulary, batch, block)
RUNS = [
    run("04", "RNN", "rnn", RNNLM, RNNConfig),
    run("05", "RNN", "rnn", RNNLM, RNNConfig),
    run("05", "LSTM", "rnn", LSTMLM, LSTMConfig, settings=lstm_like(gpu("05", "rnn")[0], 65)),
    run("07", "GPT", "gpt"),
    ("08", "GPT (shakespeare-char-t4)", model(GPT, GPTConfig, "shakespeare", t4_preset()[0]), "shakespeare",
     *t4_preset()[1:]),
    run("09", "GPT, pre-training", "pretrain"),
    run("10", "GPT, BPE tokens", "gpt", vocab="bpe"),
    run("10", "GPT, Tang poems", "tang", vocab="tang"),
    ("10", "GPT-2 (124M), fine-tuning", None, "gpt2", SIZES["10"]["gpu"]["finetune"]["batch_size"],
     SIZES["10"]["gpu"]["finetune"]["block_size"]),
    run("11", "GPT-2's block", "gpt"),
    run("11", "the modern block (Muon: AdamW's count, an upper bound)", "modern"),
    run("12", "GPT, supervised fine-tuning (3 chat markers)", "sft", vocab="chat"),
]


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config())  # the real GPT-2's shape: 12 layers × 768, 1,024 positions


def estimate(make, vocab: str, batch: int, block: int) -> dict:
    with torch.device("meta"):
        model = (make or gpt2)()
        idx = torch.randint(0, VOCAB[vocab], (batch, block))
    return training_memory(model, idx)


def attention_race() -> int:
    """Notebook 08's race: naive attention (notebook 06) forward and backward at the GPU sizes, T × T scores."""
    B, h, T, d = (SIZES["08"]["gpu"]["attention"][k] for k in "BhTd")
    with torch.device("meta"):
        q, k, v = (torch.randn(B, h, T, d, requires_grad=True) for _ in range(3))
    kept, largest = saved_activations(lambda: naive_attention(q, k, v, is_causal=True).sum())
    return 2 * 3 * q.numel() * q.element_size() + kept + 2 * largest  # q, k, v and their gradients


@pytest.fixture(scope="module")
def figures():
    rows = [(nb, what, estimate(make, vocab, batch, block), batch, block)
            for nb, what, make, vocab, batch, block in RUNS]
    return rows, attention_race()


def table(figures) -> str:
    rows, race = figures
    lines = ["| notebook | what trains | batch × block | parameters + gradients + AdamW | activations | total |",
             "|---|---|--:|--:|--:|--:|"]
    for nb, what, m, batch, block in rows:
        state = m["parameters"] + m["gradients"] + m["adamw"]
        lines.append(f"| {nb} | {what} | {batch} × {block} | {state / GiB:.2f} GiB | "
                     f"{(m['activations'] + m['backward']) / GiB:.2f} GiB | {m['total'] / GiB:.2f} GiB |")
    B, h, T = (SIZES["08"]["gpu"]["attention"][k] for k in "BhT")
    lines.append(f"| 08 | naive attention (the race) | {B} × {h} heads × {T:,} | | | {race / GiB:.2f} GiB |")
    return "\n".join(lines)


def test_every_notebooks_gpu_sizes_fit_a_t4_with_headroom(figures):
    rows, race = figures
    too_big = {f"{nb} {what}": f"{m['total'] / GiB:.1f} GiB" for nb, what, m, *_ in rows if m["total"] > BUDGET}
    assert not too_big, f"over {BUDGET / GiB:.1f} GiB, two thirds of a T4: {too_big}"
    assert race < BUDGET
    assert {nb for nb, *_ in rows} == set(SIZES)  # every notebook with GPU sizes


def test_the_readme_lists_these_figures(figures):
    readme = (ROOT / "README.md").read_text()
    expected = table(figures)
    assert expected in readme, f"the README's memory table is out of date; this is the new one:\n{expected}"


def test_saved_activations_are_what_a_real_forward_pass_keeps():
    """Counted on the meta device (shapes only), each storage once, as on a real CPU run (by its address)."""
    config = GPTConfig(65, block_size=32, n_layer=2, n_head=4, n_embd=64, dropout=0.1)
    torch.manual_seed(0)
    model, idx = GPT(config), torch.randint(0, 65, (4, 32))
    kept = {}

    def pack(t):
        kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch.nn.functional.cross_entropy(model(idx).flatten(0, 1), idx.flatten())
    with torch.device("meta"):
        meta = training_memory(GPT(config), torch.randint(0, 65, (4, 32)))
    assert meta["activations"] == sum(kept.values())
    assert meta["parameters"] == meta["gradients"] == meta["adamw"] // 2 == 4 * num_params(model)


def test_activations_grow_with_the_batch_and_the_scores_with_the_square_of_the_context():
    config = GPTConfig(65, block_size=256, n_layer=2, n_head=4, n_embd=64)
    with torch.device("meta"):
        model = GPT(config)
        a, b, c = (training_memory(model, torch.randint(0, 65, (n, 128)))["activations"] for n in (4, 8, 12))
        q = torch.randn(1, 4, 128, 16, requires_grad=True)
        q2 = torch.randn(1, 4, 256, 16, requires_grad=True)
    assert c - b == b - a > 0.9 * a  # all but the position embeddings' few grow with the batch
    naive = [saved_activations(lambda x=x: naive_attention(x, x, x, is_causal=True).sum())[0] for x in (q, q2)]
    assert naive[1] > 3.5 * naive[0]  # the T × T scores dominate: about 4× for twice the context


def test_the_readme_table_sits_in_the_gpu_part():
    readme = (ROOT / "README.md").read_text()
    part = re.search(r"^## On a GPU\n(.*?)(?=^## )", readme, re.S | re.M)
    assert part and "| notebook | what trains |" in part.group(1)
