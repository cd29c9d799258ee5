import pytest
import torch

from lmutils.data import CharTokenizer
from lmutils.generate import generate, next_token_probs, sample_text
from lmutils.models import GPT, GPTConfig

LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0])


def test_temperature_one_is_softmax_and_temperature_sharpens():
    assert torch.allclose(next_token_probs(LOGITS), LOGITS.softmax(-1))
    cold = next_token_probs(LOGITS, temperature=0.5)
    hot = next_token_probs(LOGITS, temperature=2.0)
    assert cold[0] > LOGITS.softmax(-1)[0] > hot[0]


def test_top_k_keeps_k_tokens():
    p = next_token_probs(LOGITS, top_k=2)
    assert (p > 0).sum() == 2 and p[:2].sum().item() == pytest.approx(1.0)


def test_top_p_keeps_the_smallest_nucleus():
    probs = LOGITS.softmax(-1)  # ≈ [0.53, 0.20, 0.12, 0.07, 0.03]
    p = next_token_probs(LOGITS, top_p=0.6)
    assert (p > 0).tolist() == [True, True, False, False, False]
    assert torch.allclose(p[:2], probs[:2] / probs[:2].sum())
    assert (next_token_probs(LOGITS, top_p=0.5) > 0).sum() == 1
    assert torch.allclose(next_token_probs(LOGITS, top_p=1.0), probs)


def test_top_p_works_on_batches():
    logits = torch.stack([LOGITS, LOGITS.flip(0)])
    p = next_token_probs(logits, top_p=0.6)
    assert (p[0] > 0).tolist() == [True, True, False, False, False]
    assert (p[1] > 0).tolist() == [False, False, False, True, True]


@pytest.mark.parametrize("kw, msg", [({"temperature": 0}, "temperature"), ({"top_k": 0}, "top_k"),
                                     ({"top_p": 1.5}, "top_p")])
def test_bad_sampling_settings(kw, msg):
    with pytest.raises(ValueError, match=msg):
        next_token_probs(LOGITS, **kw)


def model_and_tok():
    torch.manual_seed(0)
    tok = CharTokenizer.from_text("abcdefgh ")
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16)), tok


def test_top_k_one_is_greedy():
    model, _ = model_and_tok()
    idx = torch.tensor([[1, 2, 3]])
    out = generate(model, idx, 12, top_k=1)
    x = idx
    for _ in range(12):  # greedy by hand, cropping to the context as generate does
        x = torch.cat([x, model(x[:, -8:])[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, x)


def test_sample_text_is_seeded_and_checks_the_prompt():
    model, tok = model_and_tok()
    a = sample_text(model, tok, "abc", 20, seed=1)
    assert a == sample_text(model, tok, "abc", 20, seed=1) and a.startswith("abc") and len(a) == 23
    with pytest.raises(ValueError, match=r"1 character\(s\) not in the vocabulary: 'z'"):
        sample_text(model, tok, "a z")
    with pytest.raises(ValueError, match="prompt is empty"):
        sample_text(model, tok, "")
