import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lmutils.attention import (MultiHeadAttention, PositionalEncoding, causal_mask, padding_mask,
                               scaled_dot_product_attention, sinusoidal_positions)
from lmutils.models import TransformerConfig, TransformerModel, build_model, model_spec

TOL = 1e-5


def qkv(*shape, T_k=None, d_v=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    *batch, T, d = shape
    T_k, d_v = T_k or T, d_v or d
    return (torch.randn(*batch, T, d, generator=g), torch.randn(*batch, T_k, d, generator=g),
            torch.randn(*batch, T_k, d_v, generator=g))


def max_diff(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize("shape", [(5, 8), (3, 7, 16), (2, 4, 6, 8)])  # no batch, batch, batch × heads
def test_attention_equals_pytorch(shape):
    q, k, v = qkv(*shape)
    assert max_diff(scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v)) < TOL


def test_attention_with_different_lengths_and_value_size():
    q, k, v = qkv(2, 3, 5, 8, T_k=9, d_v=4)
    out = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 5, 4)
    assert max_diff(out, F.scaled_dot_product_attention(q, k, v)) < TOL


@pytest.mark.parametrize("T_q, T_k", [(6, 6), (4, 7)])
def test_causal_attention_equals_pytorch(T_q, T_k):
    q, k, v = qkv(2, 3, T_q, 8, T_k=T_k)
    ours = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert max_diff(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True)) < TOL
    mask = causal_mask(T_q, T_k)
    assert max_diff(scaled_dot_product_attention(q, k, v, mask=mask), ours) < TOL
    assert max_diff(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask)) < TOL


def test_causal_attention_ignores_the_future():
    q, k, v = qkv(1, 6, 4)
    _, w = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    assert torch.equal(w[0] > 0, causal_mask(6))
    v2 = v.clone()
    v2[:, 4:] += 10  # change the values of the last two positions
    out, out2 = (scaled_dot_product_attention(q, k, x, is_causal=True) for x in (v, v2))
    assert torch.equal(out[:, :4], out2[:, :4]) and not torch.allclose(out[:, 4:], out2[:, 4:])


def test_padding_mask_equals_pytorch_and_ignores_padding():
    lengths = [5, 3, 1]
    pad = padding_mask(lengths, 5)
    assert pad.tolist()[1] == [True, True, True, False, False]
    q, k, v = qkv(3, 2, 5, 8)  # (batch, heads, T, d)
    mask = pad[:, None, None, :]
    ours, w = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    assert max_diff(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask)) < TOL
    assert (w[1, :, :, 3:] == 0).all() and torch.allclose(w.sum(-1), torch.ones(3, 2, 5))
    both = mask & causal_mask(5)
    assert max_diff(scaled_dot_product_attention(q, k, v, mask=both),
                    F.scaled_dot_product_attention(q, k, v, attn_mask=both)) < TOL


def test_float_mask_and_fully_masked_rows_match_pytorch():
    q, k, v = qkv(2, 4, 8)
    float_mask = torch.zeros(4, 4).masked_fill(~causal_mask(4), float("-inf"))
    assert max_diff(scaled_dot_product_attention(q, k, v, mask=float_mask),
                    F.scaled_dot_product_attention(q, k, v, is_causal=True)) < TOL
    mask = torch.ones(4, 4, dtype=torch.bool)
    mask[1] = False  # query 1 may attend to nothing: output 0 (not NaN), as in PyTorch
    ours = scaled_dot_product_attention(q, k, v, mask=mask)
    assert not ours.isnan().any() and (ours[:, 1] == 0).all()
    assert max_diff(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask)) < TOL


def test_attention_gradients_match_pytorch():
    q, k, v = (t.requires_grad_() for t in qkv(2, 5, 8))
    grads = [torch.autograd.grad(f(q, k, v, is_causal=True).square().sum(), (q, k, v))
             for f in (scaled_dot_product_attention, F.scaled_dot_product_attention)]
    for a, b in zip(*grads):
        assert max_diff(a, b) < TOL


def test_attention_errors():
    q, k, v = qkv(2, 5, 8)
    with pytest.raises(ValueError, match="same size d_k"):
        scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="one value per key"):
        scaled_dot_product_attention(q, k, v[:, :3])
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="lengths"):
        padding_mask([3, 7], 5)


def mha_pair(d_model=16, n_head=4, bias=True, seed=0):
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(d_model, n_head, bias=bias, batch_first=True).eval()
    with torch.no_grad():  # PyTorch initialises the biases to zero: make them count
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return MultiHeadAttention(d_model, n_head, bias=bias).load_from_torch(theirs), theirs


@pytest.mark.parametrize("n_head", [1, 2, 4, 8])
@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_equals_nn_multihead_attention(n_head, bias):
    ours, theirs = mha_pair(n_head=n_head, bias=bias)
    x = torch.randn(3, 7, 16)
    out, w = ours(x)
    ref, ref_w = theirs(x, x, x, average_attn_weights=False)
    assert w.shape == (3, n_head, 7, 7)
    assert max_diff(out, ref) < TOL and max_diff(w, ref_w) < TOL
    assert max_diff(w.mean(1), theirs(x, x, x)[1]) < TOL  # PyTorch's default averages the heads


def test_multi_head_masks_use_the_opposite_convention_of_nn_multihead_attention():
    ours, theirs = mha_pair()
    x = torch.randn(2, 6, 16)
    out, w = ours(x, is_causal=True)
    ref, ref_w = theirs(x, x, x, attn_mask=~causal_mask(6), average_attn_weights=False)  # True = blocked there
    assert max_diff(out, ref) < TOL and max_diff(w, ref_w) < TOL
    pad = padding_mask([6, 4], 6)
    out, w = ours(x, mask=pad[:, None, None, :])
    ref, ref_w = theirs(x, x, x, key_padding_mask=~pad, average_attn_weights=False)
    assert max_diff(out, ref) < TOL and max_diff(w, ref_w) < TOL


def test_cross_attention_and_round_trip_to_torch():
    ours, theirs = mha_pair()
    x, mem = torch.randn(2, 3, 16), torch.randn(2, 9, 16)
    out, w = ours(x, kv=mem)
    assert w.shape == (2, 4, 3, 9) and max_diff(out, theirs(x, mem, mem)[0]) < TOL
    back = ours.to_torch().eval()
    assert max_diff(back(x, mem, mem)[0], out) < TOL
    with pytest.raises(ValueError, match="num_heads"):
        ours.load_from_torch(nn.MultiheadAttention(16, 2))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)


def test_multi_head_attention_is_permutation_equivariant():
    ours, _ = mha_pair()
    x, perm = torch.randn(1, 7, 16), torch.randperm(7)
    assert max_diff(ours(x[:, perm])[0], ours(x)[0][:, perm]) < TOL


def test_sinusoidal_positions():
    pe = sinusoidal_positions(50, 8)
    assert pe.shape == (50, 8)
    pos, i = 7, 1  # PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(…)
    angle = pos / 10000 ** (2 * i / 8)
    assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
    assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert torch.allclose(pe.norm(dim=1), torch.full((50,), 2.0))  # 4 (sin, cos) pairs: norm² = 4
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(5, 7)
    enc = PositionalEncoding(8, dropout=0.0, max_len=50)
    x = torch.randn(2, 10, 8)
    assert torch.equal(enc(x), x + pe[:10])
    with pytest.raises(ValueError, match="max_len=50"):
        enc(torch.randn(1, 51, 8))


def small_seed_transformer():
    torch.manual_seed(0)
    return TransformerModel(TransformerConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16,
                                              n_hidden=32, dropout=0.0)).eval()


def test_seed_transformer_model_is_a_causal_language_model():
    model = small_seed_transformer()
    x = torch.randint(0, 11, (2, 16))
    y = x.clone()
    y[:, 9:] = (y[:, 9:] + 1) % 11
    with torch.no_grad():
        assert model(x).shape == (2, 16, 11)
        assert torch.allclose(model(x)[:, :9], model(y)[:, :9], atol=1e-6)
        assert not torch.allclose(model(x)[:, 9:], model(y)[:, 9:])
    with pytest.raises(ValueError, match="block_size=16"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_seed_transformer_model_checkpoint_round_trip(tmp_path):
    from lmutils.checkpoint import load_model, save_checkpoint

    model = small_seed_transformer()
    again = build_model(model_spec(model))
    assert type(again) is TransformerModel and again.config == model.config
    path = save_checkpoint(tmp_path / "tf.pt", model)
    loaded, _ = load_model(path)
    x = torch.randint(0, 11, (2, 16))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
