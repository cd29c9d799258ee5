"""How big each notebook's models and runs are, by device: one table, plain data.

The CPU sizes were tuned on two cores (whole validation split, tiny Shakespeare; 5-gram baseline 1.7504):
    04 RNN 64/256:      500 steps × 32×64, lr 1e-2: 1.8415 | 1,000 × 64×64, lr 5e-3: 1.6816 | 1,500 steps: 1.6473 (42 s)
    05 LSTM 64/248:     700 × 64×64, lr 7e-3: 1.6231 | lr 1e-2: 1.5908 (31 s) | 800 steps, lr 1e-2: 1.5793 (41 s)
    05 RNN 64/512:      700 × 64×64, lr 1e-2 (800 steps): 1.8940 | lr 7e-3: 1.7818 | lr 5e-3 (800 steps): 1.7222 (47 s/700)
    05 LSTM 64/184:     800 × 64×64, lr 7e-3: 1.6621
    07/08 GPT 2×128:    800 × 64×64, lr 5e-3, warm-up 50: 1.7188
    07 GPT 2×128:       the shakespeare-char-cpu preset (lmutils/presets.py has its sweep), 1,600 steps: 1.6936 (~60-70 s)
    Tang GPT 2×64:      (in 07 until 2026-11-30; val loss on 10 batches; share of 5- or 7-character verses in 2,000-3,000 sampled characters, τ = 1)
                        lr 1e-2, 120 × 8: 6.77, ~4% | 1,000 × 8: 6.32, ~50% | 1,200 × 8: 6.13, ~77% | 1,000 × 12: 6.06,
                        ~85%, but 29-79% on other CPU arithmetic paths | 1,500 × 8: 69-89% | lr 5e-3, 1,500 × 8: 65-91% (26-43 s)
    10 Tang GPT 2×32:   (whole validation split) lr 5e-3, 1,500 × 8 × 32 characters: 6.2952, 89% (12 s) | block 16: 6.4114,
                        83% (7 s) | batch 4: 6.4036, 76% (6 s) | 1,000 steps, lr 8e-3: 6.3319, 78% (8 s); Tang bigram 6.35

    size = sizes("04", device)       # this notebook's settings for this device
    RNNConfig(tok.vocab_size, **size["rnn"]); TrainConfig(**size["train"])

"cpu" is sized so that a whole notebook runs in about a minute and a half on two CPU cores (it is also used
on Apple MPS, whose results are close to the CPU's at these sizes); "gpu" is the full size for a CUDA GPU.
Model entries are the keyword arguments of RNNConfig ("rnn"), LSTMConfig ("lstm") or GPTConfig ("gpt"),
without vocab_size; "train" is TrainConfig's. tests/test_sizes.py trains every entry, GPU ones included,
for two steps on CPU, so that a typo in a GPU-only setting fails a test instead of a Colab session.
"""

import copy

import torch

# 07's no-causal-mask pitfall: a small GPT that finds the copy trick fast, the same on every device
LEAK = dict(gpt=dict(block_size=64, n_layer=2, n_head=4, n_embd=64),
            train=dict(max_iters=300, batch_size=32, block_size=64, learning_rate=1e-2, warmup_iters=30,
                       eval_interval=50, eval_iters=10))

SIZES = {
    "04": {
        "cpu": dict(rnn=dict(n_embd=64, n_hidden=256, n_layer=1),
                    train=dict(max_iters=1500, batch_size=64, block_size=64, learning_rate=5e-3,
                               eval_interval=250, eval_iters=10, grad_clip=1.0)),
        "gpu": dict(rnn=dict(n_embd=64, n_hidden=512, n_layer=2),
                    train=dict(max_iters=3000, batch_size=64, block_size=128, learning_rate=3e-3,
                               eval_interval=500, eval_iters=10, grad_clip=1.0)),
    },
    "10": {
        "cpu": dict(bpe_vocab=512,
                    gpt=dict(block_size=64, n_layer=2, n_head=4, n_embd=64),
                    train=dict(max_iters=300, batch_size=32, block_size=64, learning_rate=1e-2, warmup_iters=30,
                               eval_interval=100, eval_iters=10),
                    pretrained="gpt2", standin=dict(n_positions=64, n_embd=64, n_layer=2, n_head=4),
                    finetune=dict(steps=40, batch_size=8, block_size=64, learning_rate=1e-3, eval_chars=20_000),
                    kv=dict(n_layer=4, n_head=4, n_embd=128, block_size=512), kv_lengths=[32, 64, 128, 256, 480],
                    tang_gpt=dict(block_size=32, n_layer=2, n_head=4, n_embd=32),
                    tang_train=dict(max_iters=1500, batch_size=8, block_size=32, learning_rate=5e-3, warmup_iters=30,
                                    eval_interval=250, eval_iters=10)),
        "gpu": dict(bpe_vocab=1024,
                    gpt=dict(block_size=256, n_layer=6, n_head=6, n_embd=384),
                    train=dict(max_iters=2000, batch_size=64, block_size=256, learning_rate=1e-3, warmup_iters=100,
                               eval_interval=250, eval_iters=20),
                    pretrained="gpt2", standin=dict(n_positions=256, n_embd=384, n_layer=6, n_head=6),
                    finetune=dict(steps=300, batch_size=8, block_size=256, learning_rate=5e-5, eval_chars=111_540),
                    kv=dict(n_layer=6, n_head=6, n_embd=384, block_size=1024), kv_lengths=[64, 128, 256, 512, 1000],
                    tang_gpt=dict(block_size=128, n_layer=6, n_head=6, n_embd=384),
                    tang_train=dict(max_iters=2000, batch_size=32, block_size=128, learning_rate=1e-3,
                                    warmup_iters=100, eval_interval=250, eval_iters=20)),
    },
    # 09 classify until 2026-12-01, with the body shipped then (2 × 128, context 64, 700 steps; 0.41M parameters;
    # 1.7347 on the validation split): "who speaks this?" (CPU, 5 speakers, first 64 characters, 600 steps × 32):
    # test accuracy on three splits of the speeches (seeds 0, 1, 2; 219 test speeches each). Naive Bayes,
    # trigrams, α by 5-fold CV on the training set: 0.438 0.447 0.429. Full fine-tuning, lr 5e-4: 0.279 0.329
    # 0.237 | lr 5e-4, head 1e-2: 0.384 0.370 0.329.
    # Frozen, 1e-2: 0.265 0.260 0.251 | 3e-2: 0.301 0.237 0.224. LoRA r4 on attention, 3e-3: 0.320 0.297 0.311 |
    # head 1e-2: 0.329 0.247 0.288 | r8 on attention and MLP, 1e-2: 0.374 0.292 0.379. Split 0 only, full
    # fine-tuning: the means of all layers' states 0.370; trained on every 64-character window (stride 32) of
    # the training speeches 0.30-0.35 (naive Bayes counted on them: 0.516), with max pooling 0.374, 1,500 steps
    # 0.37-0.41, dropout 0.1 + weight decay 0.1 0.370; whole test speeches (log-probabilities summed over windows)
    # 0.32-0.44 against naive Bayes's 0.60; 2 speakers 0.57-0.65 against 0.78, 3 speakers 0.50-0.54 against
    # 0.67. Naive Bayes won every comparison.
    # 09, another task tried on 2026-11-30: "is this verse line real, or its words shuffled?" (validation-split lines of
    # 4+ words and at most 64 characters, ~1,600 to train on, 800 to test on, half shuffled; 300 steps × 32). As
    # first built, full fine-tuning 0.875 / 0.865 / 0.809 (three splits) and LoRA 0.875 / 0.859 / 0.863 beat naive
    # Bayes (0.706 / 0.705 / 0.695), but through a shortcut: every verse line starts with a capital letter, and the
    # rule "capital first letter: real" alone scores 0.866, while trigrams without a line-start marker cannot see it.
    # Made fair (lower case, no punctuation, a newline before and after each line for both): naive Bayes 0.579 /
    # 0.616 / 0.599, full fine-tuning 0.573 / 0.589 / 0.588, LoRA 0.560 / 0.573 / 0.590, frozen 0.50-0.53, the 5-gram's
    # loss per character as a score 0.568-0.579; with the 1,600-step preset GPT as the body (val 1.6936) full
    # fine-tuning 0.598 / 0.604 / 0.610. The first word kept in place and the final punctuation kept last (split 0):
    # naive Bayes 0.555, the 5-gram 0.643, full fine-tuning 0.589, LoRA 0.523. A body this small knows little more
    # word order than a 5-gram.
    # 09 classify since 2026-12-01: the fair real-or-shuffled task (2,398 lines, 1,598 to train on, 800 to test on)
    # with the 3 × 160 body (9,000 steps, 1.5201 on the validation split), test accuracy on three splits (seeds
    # 0, 1, 2 of real_or_shuffled and of training; 32 lines per step, learning rates as in "classify"). Naive
    # Bayes 0.579 / 0.616 / 0.599; the 5-gram's surprise 0.579 / 0.572 / 0.586; the pre-trained GPT's surprise,
    # no training, 0.673 / 0.668 / 0.681. 200 steps (the notebook; the three variants train in ~35 s): full
    # 0.674 / 0.673 / 0.694, frozen 0.619 / 0.586 / 0.615, LoRA 0.624 / 0.615 / 0.644. 300 steps (~55 s): full
    # 0.684 (split 0), frozen 0.620, LoRA 0.646; with an 11,000-step body of the same size: full 0.686 / 0.698 /
    # 0.705, LoRA 0.656 / 0.601 / 0.654. Fine-tuning on Prospero (40 steps × 16 × 64): lr 1e-3 1.5055 (forgetting
    # 1.3524 -> 1.5296), 5e-4 1.4675 (1.4442), 3e-4 1.4633 (1.4059), windows of 128 at 3e-4 1.4561.
    # "Who speaks this?" with the 3 × 160 body (as above: 5 speakers, first 64 characters, full fine-tuning, 600
    # steps × 32, lr 5e-4, head 1e-2; α from 1e-3 to 0.3): naive Bayes 0.447 / 0.447 / 0.429, full 0.397 / 0.420 /
    # 0.402 (about 45 s each). Naive Bayes still wins: who speaks is mostly which words.
    "09": {  # cpu: fine-tunes data/pretrained/gpt-shakespeare-3x160.ckpt, made with "gpt" and "train" (see its .txt)
        "cpu": dict(gpt=dict(n_layer=3, n_head=4, n_embd=160, block_size=128, dropout=0.0, bias=False),
                    train=dict(max_iters=9000, batch_size=16, block_size=128, learning_rate=5e-3, min_lr=5e-4,
                               warmup_iters=200, lr_decay_iters=9000, eval_interval=1000, eval_iters=20,
                               grad_clip=1.0, dtype="float32"),
                    checkpoint="pretrained/gpt-shakespeare-3x160.ckpt",
                    finetune=dict(max_iters=40, batch_size=16, block_size=64, learning_rate=3e-4, min_lr=3e-5,
                                  warmup_iters=5, eval_interval=10, eval_iters=4, grad_clip=1.0, dtype="float32"),
                    scratch=dict(max_iters=40, batch_size=16, block_size=64, learning_rate=3e-3, min_lr=3e-4,
                                 warmup_iters=5, eval_interval=10, eval_iters=4, grad_clip=1.0, dtype="float32"),
                    classify=dict(length=64, steps=200, batch_size=32, rank=4,
                                  lr=dict(full=5e-4, frozen=1e-2, lora=3e-3), head_lr=dict(full=1e-2)),
                    seed_steps=10),
        "gpu": dict(gpt=dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, bias=False),
                    train=dict(max_iters=5000, batch_size=64, block_size=256, learning_rate=1e-3, min_lr=1e-4,
                               warmup_iters=100, eval_interval=500, eval_iters=50, grad_clip=1.0),
                    checkpoint=None,
                    finetune=dict(max_iters=300, batch_size=64, block_size=256, learning_rate=3e-4, min_lr=3e-5,
                                  warmup_iters=20, eval_interval=50, eval_iters=10, grad_clip=1.0),
                    scratch=dict(max_iters=300, batch_size=64, block_size=256, learning_rate=1e-3, min_lr=1e-4,
                                 warmup_iters=20, eval_interval=50, eval_iters=10, grad_clip=1.0),
                    classify=dict(length=64, steps=300, batch_size=64, rank=8,
                                  lr=dict(full=1e-4, frozen=1e-2, lora=1e-3), head_lr=dict(full=1e-2)),
                    seed_steps=100),
    },
    "05": {
        # the LSTM gets the width that matches the RNN's parameters; each model its best learning rate
        "cpu": dict(rnn=dict(n_embd=64, n_hidden=512), lr=dict(RNN=5e-3, LSTM=1e-2),
                    train=dict(max_iters=700, batch_size=64, block_size=64, eval_interval=140, eval_iters=5,
                               grad_clip=1.0)),
        "gpu": dict(rnn=dict(n_embd=64, n_hidden=1024), lr=dict(RNN=2e-3, LSTM=3e-3),
                    train=dict(max_iters=3000, batch_size=64, block_size=128, eval_interval=250, eval_iters=10,
                               grad_clip=1.0)),
    },
    "07": {
        # the GPT of the shakespeare-char-cpu preset with its recipe, 1,600 of its 1,800 steps (as notebook 08), so
        # that the notebook stays within about 90 s; "leak": the small GPT that shows the missing causal mask
        "cpu": dict(gpt=dict(block_size=128, n_layer=2, n_head=4, n_embd=128),
                    train=dict(max_iters=1600, batch_size=16, block_size=128, learning_rate=1e-2, min_lr=1e-3,
                               warmup_iters=100, eval_interval=200, eval_iters=10),
                    leak=LEAK),
        "gpu": dict(gpt=dict(block_size=256, n_layer=6, n_head=6, n_embd=384),
                    train=dict(max_iters=2000, batch_size=64, block_size=256, learning_rate=1e-3, warmup_iters=100,
                               eval_interval=250, eval_iters=20),
                    leak=LEAK),
    },
    "08": {
        "cpu": dict(attention=dict(B=8, h=4, T=256, d=32), compile_demo=False,
                    run=dict(max_iters=1600, eval_iters=10),  # 1,600 of the CPU preset's 1,800 steps: ≤ 90 s
                    reference={}),
        "gpu": dict(attention=dict(B=32, h=6, T=1024, d=64), compile_demo=True, run=dict(),
                    reference={"nanoGPT's reference run (1.47)": 1.47}),
    },
    # 12: SFT of the 3 × 160 body on data/instructions (lmutils.chat); "sft" made the shipped checkpoint (CPU) and is
    # run in the notebook on a GPU; "demo": the short masked / unmasked / no-end-marker runs; "dpo": the preference
    # step, beta its KL strength; "probe": validation prompts the end-marker check answers
    "12": {
        "cpu": dict(checkpoint="pretrained/gpt-shakespeare-3x160-sft.ckpt",
                    sft=dict(max_iters=600, batch_size=32, learning_rate=1e-3, min_lr=1e-4, warmup_iters=100,
                             eval_interval=200, log_interval=10, dtype="float32"),
                    demo=dict(max_iters=60, batch_size=16, learning_rate=1e-3, min_lr=1e-4, warmup_iters=10,
                              eval_interval=20, log_interval=5, dtype="float32"),
                    dpo=dict(max_iters=40, batch_size=16, learning_rate=1e-4, min_lr=1e-5, warmup_iters=5,
                             log_interval=5, dtype="float32"),
                    beta=0.1, probe=50, demo_val=300),
        "gpu": dict(checkpoint=None,
                    sft=dict(max_iters=600, batch_size=32, learning_rate=1e-3, min_lr=1e-4, warmup_iters=100,
                             eval_interval=100, log_interval=10, dtype="float32"),
                    demo=dict(max_iters=200, batch_size=32, learning_rate=1e-3, min_lr=1e-4, warmup_iters=20,
                              eval_interval=50, log_interval=10),
                    dpo=dict(max_iters=200, batch_size=32, learning_rate=1e-4, min_lr=1e-5, warmup_iters=20,
                             log_interval=10),
                    beta=0.1, probe=163, demo_val=1058),
    },
}


def sizes(notebook: str, device) -> dict:
    """The settings of notebook `notebook` ("04") for `device`: its "gpu" entry on CUDA, else its "cpu" entry
    (a copy: changing it in a notebook leaves the table alone)."""
    if notebook not in SIZES:
        raise KeyError(f"no sizes for notebook {notebook!r}: the table has {', '.join(SIZES)}")
    kind = "gpu" if torch.device(device).type == "cuda" else "cpu"
    return copy.deepcopy(SIZES[notebook][kind])
