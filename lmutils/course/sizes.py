"""How big each notebook's models and runs are, by device: one table.

    size = sizes("07", device)              # this notebook's entry for this device
    GPT(GPTConfig(vocab_size, **size["gpt"].model)); fit(..., size["gpt"].train)

"cpu" is sized so that a whole notebook runs in about a minute and a half on two CPU cores (it is also used
on Apple MPS, whose results are close to the CPU's at these sizes); "gpu" is the full size for a CUDA GPU.

A run is written as the command writes it (lmutils.run): one flat dict of settings, the model's and the
training's together, so that block_size is written once. preset="..." starts from a preset (lmutils.presets)
and changes what follows; model="rnn", "lstm" or "gpt" names the model whose settings it holds. sizes() hands
each run to lmutils.run.split_settings, as the command does: a Run (corpus, model: the config's keyword
arguments without vocab_size, train: a TrainConfig). Everything else in an entry is plain data. How the CPU
sizes were chosen (the sweeps, dated) is in data/measured/tuning-NN.md. tests/test_sizes.py trains every run,
the GPU ones included, for two steps on CPU, so that a typo in a GPU-only setting fails a test instead of a
Colab session.
"""

import copy

from ..device import size_column
from ..models import MODELS
from ..presets import get_preset
from ..run import Run, split_settings

# 07's no-causal-mask pitfall: a small GPT that finds the copy trick fast, the same on every device
LEAK = dict(model="gpt", block_size=64, n_layer=2, n_head=4, n_embd=64, max_iters=300, batch_size=32,
            learning_rate=1e-2, warmup_iters=30, eval_interval=50, eval_iters=10)
BODY_09 = dict(model="gpt", n_layer=3, n_head=4, n_embd=160, dropout=0.0, bias=False)  # the shipped body's shape
BODY_12 = dict(BODY_09, block_size=128)  # 12 fine-tunes the shipped 09 body, context and all
BODY_09_GPU = dict(model="gpt", n_layer=6, n_head=6, n_embd=384, dropout=0.2, bias=False)

# 11: the offline stand-in for SmolLM2-135M (a LlamaConfig: its shape in small, tied embeddings, GQA 4 → 2)
LLAMA_STANDIN = dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=True)

SIZES = {
    "04": {
        "cpu": dict(rnn=dict(model="rnn", n_embd=64, n_hidden=256, n_layer=1, max_iters=1500, batch_size=64,
                             block_size=64, learning_rate=5e-3, eval_interval=250, eval_iters=10, grad_clip=1.0)),
        "gpu": dict(rnn=dict(model="rnn", n_embd=64, n_hidden=512, n_layer=2, max_iters=3000, batch_size=64,
                             block_size=128, learning_rate=3e-3, eval_interval=500, eval_iters=10, grad_clip=1.0)),
    },
    "05": {
        # the LSTM gets the width that matches the RNN's parameters; each model its best learning rate
        # 400 steps keep the notebook near 90 s on two cores (700 took 107 s on a fast machine, 150 s on a slow one)
        "cpu": dict(rnn=dict(model="rnn", n_embd=64, n_hidden=512, max_iters=400, batch_size=64, block_size=64,
                             eval_interval=80, eval_iters=5, grad_clip=1.0),
                    lr=dict(RNN=3e-3, LSTM=1e-2)),  # the lr-grid measurement's best (data/measured/lr-grid.json)
        "gpu": dict(rnn=dict(model="rnn", n_embd=64, n_hidden=1024, max_iters=3000, batch_size=64, block_size=128,
                             eval_interval=250, eval_iters=10, grad_clip=1.0),
                    lr=dict(RNN=2e-3, LSTM=3e-3)),
    },
    "07": {
        # the shakespeare-char-cpu preset, 1,300 of its 1,800 steps, the fewest whose three seeds all stay clearly
        # below the 5-gram's 1.7504 (1,200 steps end at 1.7288, 1.7521 and 1.7476: one above it; data/measured/
        # tuning-07.md); "leak": the small GPT that shows the missing causal mask
        "cpu": dict(gpt=dict(preset="shakespeare-char-cpu", max_iters=1300, eval_iters=10), leak=LEAK),
        "gpu": dict(gpt=dict(preset="shakespeare-char", max_iters=2000, dropout=0.0, eval_iters=20, compile=False),
                    leak=LEAK),
    },
    "08": {  # run: overrides of the preset that suits the device (preset_for)
        "cpu": dict(attention=dict(B=8, h=4, T=256, d=32), compile_demo=False,
                    run=dict(max_iters=700, eval_iters=10),  # a short run of the CPU preset: 07 trains it longer
                    reference={}),
        "gpu": dict(attention=dict(B=32, h=6, T=1024, d=64), compile_demo=True, run=dict(),
                    reference={"nanoGPT's reference run (1.47)": 1.47}),
    },
    "09": {  # cpu: fine-tunes data/pretrained/gpt-shakespeare-3x160.ckpt, made with "pretrain" (see its .txt)
        "cpu": dict(pretrain=dict(preset="shakespeare-char-cpu", n_layer=3, n_embd=160, max_iters=9000,
                                  learning_rate=5e-3, min_lr=5e-4, warmup_iters=200, eval_interval=1000),
                    checkpoint="pretrained/gpt-shakespeare-3x160.ckpt",
                    finetune=dict(BODY_09, max_iters=40, batch_size=16, block_size=64, learning_rate=3e-4,
                                  min_lr=3e-5, warmup_iters=5, eval_interval=10, eval_iters=4, grad_clip=1.0,
                                  dtype="float32"),
                    scratch=dict(BODY_09, max_iters=40, batch_size=16, block_size=64, learning_rate=3e-3,
                                 min_lr=3e-4, warmup_iters=5, eval_interval=10, eval_iters=4, grad_clip=1.0,
                                 dtype="float32"),
                    classify=dict(length=64, steps=200, batch_size=32, rank=4,
                                  lr=dict(full=5e-4, frozen=1e-2, lora=3e-3), head_lr=dict(full=1e-2)),
                    seed_steps=10),
        "gpu": dict(pretrain=dict(preset="shakespeare-char", eval_interval=500, eval_iters=50, compile=False),
                    checkpoint=None,
                    finetune=dict(BODY_09_GPU, max_iters=300, batch_size=64, block_size=256, learning_rate=3e-4,
                                  min_lr=3e-5, warmup_iters=20, eval_interval=50, eval_iters=10, grad_clip=1.0),
                    scratch=dict(BODY_09_GPU, max_iters=300, batch_size=64, block_size=256, learning_rate=1e-3,
                                 min_lr=1e-4, warmup_iters=20, eval_interval=50, eval_iters=10, grad_clip=1.0),
                    classify=dict(length=64, steps=300, batch_size=64, rank=8,
                                  lr=dict(full=1e-4, frozen=1e-2, lora=1e-3), head_lr=dict(full=1e-2)),
                    seed_steps=100),
    },
    "10": {
        "cpu": dict(bpe_vocab=512,
                    gpt=dict(model="gpt", block_size=64, n_layer=2, n_head=4, n_embd=64, max_iters=300, batch_size=32,
                             learning_rate=1e-2, warmup_iters=30, eval_interval=100, eval_iters=10),
                    # GPT-2 itself (124M parameters) at the GPU sizes only: on a CPU the stand-in, unless asked for.
                    # A GPT-2 of the same shape on one CPU thread (CPU time, 2026-12-02): 6.3 s per fine-tuning step
                    # of 8 × 64 tokens, 0.3 s per 64-token window of perplexity; on two cores about 3 minutes for
                    # the 40 steps and the two perplexities of 20,000 characters, besides the download
                    pretrained=None, standin=dict(n_positions=64, n_embd=64, n_layer=2, n_head=4),
                    finetune=dict(steps=40, batch_size=8, block_size=64, learning_rate=1e-3, eval_chars=20_000),
                    kv=dict(n_layer=4, n_head=4, n_embd=128, block_size=512), kv_lengths=[32, 64, 128, 256, 480],
                    tang=dict(model="gpt", block_size=32, n_layer=2, n_head=4, n_embd=32, max_iters=1500,
                              batch_size=8, learning_rate=5e-3, warmup_iters=30, eval_interval=250, eval_iters=10)),
        "gpu": dict(bpe_vocab=1024,
                    gpt=dict(preset="shakespeare-char", max_iters=2000, dropout=0.0, eval_iters=20, compile=False),
                    pretrained="gpt2", standin=dict(n_positions=256, n_embd=384, n_layer=6, n_head=6),
                    finetune=dict(steps=300, batch_size=8, block_size=256, learning_rate=5e-5, eval_chars=111_540),
                    kv=dict(n_layer=6, n_head=6, n_embd=384, block_size=1024), kv_lengths=[64, 128, 256, 512, 1000],
                    tang=dict(model="gpt", block_size=128, n_layer=6, n_head=6, n_embd=384, max_iters=2000,
                              batch_size=32, learning_rate=1e-3, warmup_iters=100, eval_interval=250, eval_iters=20)),
    },
    "11": {
        # cpu: both blocks for 400 of the CPU presets' steps, the schedule fitted (one run each, ≤ 90 s in all);
        # the full-length runs are lmutils.course.ladder's (data/measured/ladder-cpu.json)
        "cpu": dict(gpt=dict(preset="shakespeare-char-cpu", max_iters=400, eval_interval=100, eval_iters=5),
                    modern=dict(preset="modern-char-cpu", max_iters=400, eval_interval=100, eval_iters=5),
                    hf=dict(model="gpt", n_layer=2, n_head=4, n_embd=64, block_size=64), llama=LLAMA_STANDIN),
        "gpu": dict(gpt=dict(preset="shakespeare-char", max_iters=2000, dropout=0.0, eval_iters=20, compile=False),
                    modern=dict(preset="modern-char", max_iters=2000, dropout=0.0, eval_iters=20, compile=False),
                    hf=dict(model="gpt", n_layer=2, n_head=4, n_embd=64, block_size=64), llama=LLAMA_STANDIN),
    },
    # 12: SFT of 09's 3 × 160 body (data/pretrained/gpt-shakespeare-3x160.ckpt) on data/instructions (lmutils.chat).
    # "sft" made the shipped checkpoint on a CPU (python -m lmutils.course.assistant sft, see its .txt) and runs in
    # the notebook on a GPU; "demo": the short masked / unmasked / no-end-marker runs; "dpo": the preference step,
    # beta its KL strength; "probe": validation prompts the end-marker check answers. The model settings are the body's.
    "12": {
        "cpu": dict(checkpoint="pretrained/gpt-shakespeare-3x160-sft.ckpt",
                    sft=dict(BODY_12, max_iters=600, batch_size=32, learning_rate=1e-3, min_lr=1e-4,
                             warmup_iters=100, eval_interval=200, log_interval=10, dtype="float32"),
                    demo=dict(BODY_12, max_iters=60, batch_size=16, learning_rate=1e-3, min_lr=1e-4,
                              warmup_iters=10, eval_interval=20, log_interval=5, dtype="float32"),
                    dpo=dict(BODY_12, max_iters=40, batch_size=16, learning_rate=1e-4, min_lr=1e-5,
                             warmup_iters=5, log_interval=5, dtype="float32"),
                    beta=0.1, probe=50, demo_val=300, replay=0.3),
        "gpu": dict(checkpoint=None,
                    sft=dict(BODY_12, max_iters=600, batch_size=32, learning_rate=1e-3, min_lr=1e-4,
                             warmup_iters=100, eval_interval=100, log_interval=10, dtype="float32"),
                    demo=dict(BODY_12, max_iters=200, batch_size=32, learning_rate=1e-3, min_lr=1e-4,
                              warmup_iters=20, eval_interval=50, log_interval=10),
                    dpo=dict(BODY_12, max_iters=200, batch_size=32, learning_rate=1e-4, min_lr=1e-5,
                             warmup_iters=20, log_interval=10),
                    beta=0.1, probe=163, demo_val=1058, replay=0.3),
    },
}


def is_run(value) -> bool:
    """A run's settings: a dict that names its model or its preset."""
    return isinstance(value, dict) and ("model" in value or "preset" in value)


def run_of(settings: dict) -> Run:
    """One run's settings through the command's split: a preset's settings first (with get_preset's schedule
    rules), then the entry's own."""
    settings = dict(settings)
    if "preset" in settings:
        preset = settings.pop("preset")
        settings = dict(get_preset(preset, **{k: v for k, v in settings.items() if k != "model"}), preset=preset)
    return split_settings(settings, MODELS[settings.get("model", "gpt")][1])


def sizes(notebook: str, device) -> dict:
    """The entry of notebook `notebook` ("04") for `device`: its "gpu" entry on CUDA, else (a CPU, Apple MPS) its
    "cpu" entry, as lmutils.device.size_column says; each run as a Run (a copy: changing it in a notebook leaves
    the table alone)."""
    if notebook not in SIZES:
        raise KeyError(f"no sizes for notebook {notebook!r}: the table has {', '.join(SIZES)}")
    kind = size_column(device)  # "gpu" on CUDA; "cpu" on a CPU and on Apple MPS
    return {k: run_of(v) if is_run(v) else copy.deepcopy(v) for k, v in SIZES[notebook][kind].items()}
