"""The course's GPT in Hugging Face's GPT2LMHeadModel, and back; loading GPT-2 offline fails fast."""

import time

import pytest
import torch

pytest.importorskip("transformers")

from lmutils.generate import generate  # noqa: E402
from lmutils.hf import from_gpt2, load_gpt2, to_gpt2  # noqa: E402
from lmutils.models import GPT, GPTConfig  # noqa: E402


@pytest.mark.parametrize("bias", [False, True])
def test_same_logits_and_greedy_tokens(bias):
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=61, block_size=32, n_layer=2, n_head=4, n_embd=32, bias=bias)).eval()
    if bias:  # non-zero biases and norm shifts, so that every one of them is tested
        with torch.no_grad():
            for name, p in gpt.named_parameters():
                if name.endswith("bias"):
                    p.normal_(0, 0.1)
    hf = to_gpt2(gpt).eval()
    idx = torch.randint(0, 61, (2, 32))
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, gpt(idx), atol=1e-5, rtol=1e-5)
        back = from_gpt2(hf).eval()
        torch.testing.assert_close(back(idx), gpt(idx), atol=1e-5, rtol=1e-5)
    ours = generate(gpt, idx[:1, :5], 12, top_k=1)
    theirs = hf.generate(idx[:1, :5], max_new_tokens=12, do_sample=False, pad_token_id=0)
    assert torch.equal(ours, theirs)


def test_offline_loading_falls_back_fast(monkeypatch, capsys):
    from lmutils.bpe import BPETokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = BPETokenizer([])
    t0 = time.perf_counter()
    model, got_tok, pretrained = load_gpt2("gpt2-not-a-cached-model", dict(n_positions=16, n_embd=16, n_layer=1,
                                                                           n_head=2), tok)
    assert time.perf_counter() - t0 < 5
    assert not pretrained and got_tok is tok and model.config.vocab_size == 256
    assert capsys.readouterr().out.startswith("offline: using a small randomly initialised GPT2Config stand-in")


def test_no_name_gives_the_stand_in_at_once_without_a_network_check(monkeypatch, capsys):
    from lmutils import hf
    from lmutils.bpe import BPETokenizer

    monkeypatch.setattr(hf, "online", lambda *a, **k: pytest.fail("looked for a network"))
    tok = BPETokenizer([])
    model, got_tok, pretrained = load_gpt2(None, dict(n_positions=16, n_embd=16, n_layer=1, n_head=2), tok)
    assert not pretrained and got_tok is tok and model.config.n_layer == 1
    assert capsys.readouterr().out == ""  # the notebook says why, in its own words
    with pytest.raises(OSError, match="name=None asks for the stand-in"):
        load_gpt2(None)

