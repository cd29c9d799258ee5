import pytest
import torch

from lmutils.models import (GPT, GPTConfig, LSTMConfig, LSTMLM, RNNConfig, RNNLM, build_model, model_spec,
                            num_params)


def small_gpt(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=32, **kw))


def test_gpt_shapes_and_weight_tying():
    model = small_gpt()
    logits = model(torch.randint(0, 11, (3, 16)))
    assert logits.shape == (3, 16, 11)
    assert model.head.weight is model.tok_emb.weight
    # counted once: 11*32 tokens + 16*32 positions + 2 blocks * (4*32*32 attn + 8*32*32 mlp + 2*32 ln) + 32 ln_f
    assert num_params(model) == 11 * 32 + 16 * 32 + 2 * (12 * 32 * 32 + 64) + 32
    assert num_params(model, non_embedding=True) == num_params(model) - 16 * 32


def test_gpt_is_causal():
    model = small_gpt().eval()
    x = torch.randint(0, 11, (1, 16))
    y = x.clone()
    y[0, 9:] = (y[0, 9:] + 1) % 11  # change every token after position 8
    assert torch.allclose(model(x)[0, :9], model(y)[0, :9], atol=1e-6)
    assert not torch.allclose(model(x)[0, 9:], model(y)[0, 9:])


def test_gpt_refuses_too_long_input_and_bad_heads():
    with pytest.raises(ValueError, match="block_size=16"):
        small_gpt()(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        GPT(GPTConfig(vocab_size=5, n_embd=30, n_head=4))


@pytest.mark.parametrize("cls, cfg", [(RNNLM, RNNConfig), (LSTMLM, LSTMConfig)])
def test_recurrent_models(cls, cfg):
    model = cls(cfg(vocab_size=7, n_embd=8, n_hidden=16, n_layer=2))
    x = torch.randint(0, 7, (2, 5))
    logits, state = model(x, return_state=True)
    assert logits.shape == (2, 5, 7)
    # feeding the sequence in two pieces with the carried state gives the same logits
    a, s = model(x[:, :3], return_state=True)
    b = model(x[:, 3:], s)
    assert torch.allclose(torch.cat([a, b], 1), logits, atol=1e-6)


def test_build_model_rebuilds_kind_and_shape():
    model = small_gpt()
    again = build_model(model_spec(model))
    assert type(again) is GPT and again.config == model.config
    with pytest.raises(ValueError, match="unknown model kind 'cnn'"):
        build_model({"kind": "cnn", "config": {}})
