"""lmutils.finetune: LoRA starts as the identity change and merges exactly; the classifier pools correctly."""

import random

import pytest
import torch
import torch.nn as nn

from lmutils.finetune import (GPTClassifier, LoRALinear, add_lora, confusion_matrix, freeze, merge_lora,
                              pad_batch, plain, real_or_shuffled, shuffle_words, speeches,
                              train_classifier, trainable_params)
from lmutils.checkpoint import load_checkpoint
from lmutils.data import CharTokenizer, data_dir
from lmutils.models import GPT, GPTConfig
from lmutils.course.sizes import sizes


def small_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8))


def test_hidden_states_feed_the_lm_head():
    gpt = small_gpt()
    idx = torch.randint(0, 11, (3, 10))
    torch.testing.assert_close(gpt.head(gpt.hidden(idx)), gpt(idx), rtol=0, atol=0)
    with pytest.raises(ValueError, match="longer than the model's context"):
        gpt.hidden(torch.zeros(1, 17, dtype=torch.long))


def test_lora_with_zero_B_leaves_the_output_unchanged():
    gpt = small_gpt()
    idx = torch.randint(0, 11, (2, 12))
    before = gpt(idx).detach()
    names = add_lora(gpt, rank=2)
    assert names == ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.1.attn.qkv", "blocks.1.attn.proj"]
    assert all(isinstance(gpt.get_submodule(n), LoRALinear) for n in names)
    torch.testing.assert_close(gpt(idx), before, rtol=0, atol=0)
    # only A and B train: r·(in + out) per layer
    assert trainable_params(gpt) == 2 * (2 * (8 + 24) + 2 * (8 + 8))


def test_merged_weights_give_the_adapters_logits():
    gpt = small_gpt()
    add_lora(gpt, rank=3, alpha=6.0)
    with torch.no_grad():
        for m in gpt.modules():
            if isinstance(m, LoRALinear):
                m.B.normal_()  # a "trained" adapter
    idx = torch.randint(0, 11, (2, 12))
    adapted = gpt(idx).detach()
    merge_lora(gpt)
    assert not any(isinstance(m, LoRALinear) for m in gpt.modules())
    torch.testing.assert_close(gpt(idx), adapted, rtol=1e-5, atol=1e-5)


def test_lora_layer_formula_and_errors():
    base = nn.Linear(5, 4, bias=True)
    lora = LoRALinear(base, rank=2, alpha=4.0)
    with torch.no_grad():
        lora.B.normal_()
    x = torch.randn(3, 5)
    want = x @ base.weight.T + base.bias + 2.0 * x @ lora.A.T @ lora.B.T
    torch.testing.assert_close(lora(x), want)
    assert not base.weight.requires_grad
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(5, 4), rank=0)
    with pytest.raises(ValueError, match="matches"):
        add_lora(small_gpt(), targets=("nothing",))


def test_mean_pooling_ignores_padding():
    gpt = small_gpt()
    clf = GPTClassifier(gpt, n_classes=3)
    idx = torch.randint(1, 11, (1, 6))
    padded = torch.cat([idx, torch.zeros(1, 4, dtype=torch.long)], 1)
    mask = torch.tensor([[1.0] * 6 + [0.0] * 4])
    torch.testing.assert_close(clf.features(padded, mask), clf.features(idx))
    last = GPTClassifier(gpt, 3, pool="last")
    torch.testing.assert_close(last.features(padded, mask), gpt.hidden(idx)[:, -1])


def test_frozen_body_trains_only_the_head():
    clf = GPTClassifier(freeze(small_gpt()), n_classes=2)
    assert trainable_params(clf) == 8 * 2 + 2
    body = [p.clone() for p in clf.body.parameters()]
    x = torch.randint(0, 11, (16, 8))
    y = (x[:, 0] > 5).long()
    losses = train_classifier(clf, x, torch.ones(16, 8), y, steps=30, lr=1e-2, batch_size=8)
    assert losses[-1] < losses[0]
    assert all(torch.equal(a, b) for a, b in zip(body, clf.body.parameters()))
    with pytest.raises(ValueError, match="frozen"):
        train_classifier(freeze(clf), x, torch.ones(16, 8), y, steps=1)


def test_speeches_pad_batch_and_confusion():
    text = "ROMEO:\nHello there.\n\nJULIET:\nHi.\nBye.\n\nnot a speech\n\nROMEO:\nAgain."
    sp = speeches(text)
    assert [(s, b) for s, b, _ in sp] == [("ROMEO", "Hello there."), ("JULIET", "Hi.\nBye."), ("ROMEO", "Again.")]
    assert all(text[p:].startswith(s + ":") for s, _, p in sp)
    tok = CharTokenizer.from_text(text)
    x, mask = pad_batch(["Hi.", "Hello there."], tok, 5)
    assert x.shape == (2, 5) and mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert tok.decode(x[1].tolist()) == "Hello"
    assert confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist() == [[1, 0], [1, 1]]


def test_real_or_shuffled_keeps_the_words_and_balances_the_labels():
    lines = [f"line {i} has five words" for i in range(10)] + ["a b", "to be or not to be"]
    data = real_or_shuffled(lines, seed=3)
    assert [label for _, label in data] == [1, 0] * 6
    real = [t for t, label in data if label == 1]
    shuffled = [t for t, label in data if label == 0]
    assert set(real) < set(lines) and not set(shuffled) & set(lines)  # a shuffled line is never the original
    assert sorted(sorted(t.split()) for t in real + shuffled) == sorted(sorted(t.split()) for t in lines)
    assert data == real_or_shuffled(lines, seed=3) and data != real_or_shuffled(lines, seed=4)
    assert shuffle_words("b a", random.Random(0)) == "a b"
    with pytest.raises(ValueError, match="two different words"):
        shuffle_words("la la", random.Random(0))


def test_plain_keeps_only_lower_case_words_and_apostrophes():
    assert plain("  O'er the Sea, my LORD!--and  then?") == "o'er the sea my lord and then"
    assert plain("KING RICHARD III:") == "king richard iii"
    assert plain("?!.") == ""


def test_the_shipped_body_is_small_and_made_with_the_sizes_table():
    cpu = sizes("09", "cpu")
    path = data_dir() / cpu["checkpoint"]
    state = load_checkpoint(path)
    assert path.stat().st_size <= 5_000_000 and state["optimizer"] is None  # the limit; weights only
    # the checkpoint predates the modern options (RMSNorm, RoPE, ...): it was made with their defaults
    assert GPTConfig(**state["model_spec"]["config"]) == GPTConfig(vocab_size=65, **cpu["pretrain"].model)
    made = {k: v for k, v in state["train_config"].items() if k not in ("checkpoint", "checkpoint_interval")}
    assert made == {k: v for k, v in vars(cpu["pretrain"].train).items() if k in made}
    assert state["step"] == cpu["pretrain"].train.max_iters


def test_head_lr_is_the_heads_own_learning_rate():
    clf = GPTClassifier(small_gpt(), n_classes=2)
    body = [p.clone() for p in clf.body.parameters()]
    x = torch.randint(0, 11, (16, 8))
    y = (x[:, 0] > 5).long()
    train_classifier(clf, x, torch.ones(16, 8), y, steps=5, lr=0.0, head_lr=1e-2, batch_size=8)
    assert all(torch.equal(a, b) for a, b in zip(body, clf.body.parameters()))  # lr 0: the body stays
    assert clf.head.weight.abs().sum() > 0                                       # the head moved from zero
    frozen = GPTClassifier(freeze(small_gpt()), n_classes=2)                     # only the head trains: one group
    assert train_classifier(frozen, x, torch.ones(16, 8), y, steps=2, lr=1e-2, head_lr=1e-2, batch_size=8)


def test_naive_bayes_counts_trigrams_as_written_out_by_hand():
    import math
    from collections import Counter

    from lmutils.finetune import NaiveBayes, choose_alpha, pad_batch

    tok = CharTokenizer.from_text("\nabc")
    V = tok.vocab_size
    lines = ["\nab\n", "\nabab\n", "\ncc\n", "\ncac\n"]
    y = torch.tensor([0, 0, 1, 1])
    x, m = pad_batch(lines, tok, 6)
    nb = NaiveBayes(V, 2, alpha=0.5).fit(x, m, y)
    counts = [Counter(), Counter()]
    for line, c in zip(lines, y.tolist()):
        counts[c].update(line[i:i + 3] for i in range(len(line) - 2))
    test = "\nbab\n"
    for c in range(2):
        total = sum(counts[c].values())
        by_hand = math.log(2 / 4) + sum(math.log((counts[c][test[i:i + 3]] + 0.5) / (total + 0.5 * V ** 3))
                                        for i in range(len(test) - 2))
        xt, mt = pad_batch([test], tok, 6)
        assert nb.scores(xt, mt)[0, c].item() == pytest.approx(by_hand)
    assert nb.predict(*pad_batch([test, "\ncca\n"], tok, 6)).tolist() == [0, 1]
    alpha, cv = choose_alpha(x, m, y, 2, V, alphas=(0.1, 1.0), folds=2)
    assert alpha in (0.1, 1.0) and set(cv) == {0.1, 1.0} and all(0 <= v <= 1 for v in cv.values())
