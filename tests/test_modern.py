"""The modern pieces (lmutils.modern) against PyTorch's and Hugging Face's, and the GPT built from them: the same
logits as transformers' LlamaForCausalLM and Qwen3ForCausalLM, the KV cache, old checkpoints."""

import math
import time

import pytest
import torch
import torch.nn.functional as F

from lmutils.checkpoint import CheckpointError, load_checkpoint, restore_model
from lmutils.files import course_dir
from lmutils.generate import generate
from lmutils.kvcache import KVCache, generate_cached
from lmutils.modern import (EPS, SDPA_GQA, RMSNorm, SwiGLU, apply_rotary, apply_rotary_interleaved, attend,
                            interleaved_to_half, repeat_kv, rms_norm, rope_cos_sin, swiglu_hidden)
from lmutils.models import GPT, GPTConfig, num_params

MODERN = dict(norm="rmsnorm", pos="rope", mlp="swiglu")


def _gpt(seed=0, **kw):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**dict(vocab_size=61, block_size=32, n_layer=2, n_head=4, n_embd=32) | kw)).eval()


def _jiggle(model, seed=1):
    """Non-trivial norm gains, biases and output projections (zero or one at initialisation), so that a
    conversion that dropped them would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() < 2 or name.endswith("proj.weight"):
                p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


# --- RMSNorm ------------------------------------------------------------------------------------------

def test_rmsnorm_matches_torch_and_llama():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    x = torch.randn(3, 5, 16) * 3 + 1
    ours = RMSNorm(16)
    with torch.no_grad():
        ours.weight.normal_()
    theirs, llama = torch.nn.RMSNorm(16, eps=EPS), LlamaRMSNorm(16, eps=EPS)
    theirs.weight.data.copy_(ours.weight), llama.weight.data.copy_(ours.weight)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours(x), llama(x), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(RMSNorm(16, weight=False)(x), torch.nn.RMSNorm(16, eps=EPS, elementwise_affine=False)(x))
    y = rms_norm(x)
    assert torch.allclose(y.pow(2).mean(-1), torch.ones(3, 5), atol=1e-4)  # unit root mean square
    assert not torch.allclose(y.mean(-1), torch.zeros(3, 5), atol=1e-2)     # but, unlike LayerNorm, not centred


def test_rmsnorm_keeps_a_bfloat16_input_bfloat16():
    x = torch.randn(2, 8).bfloat16()
    assert RMSNorm(8)(x).dtype == torch.bfloat16


# --- rotary position embeddings -----------------------------------------------------------------------

def _llama_config(**kw):
    from transformers import LlamaConfig

    return LlamaConfig(**dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=4, head_dim=8,
                              intermediate_size=48, rope_theta=500.0, rms_norm_eps=EPS) | kw)


@pytest.mark.parametrize("start", [0, 7])
def test_rope_matches_llama_rotary_embedding_and_apply_rotary_pos_emb(start):
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    q, k = torch.randn(2, 4, 10, 8), torch.randn(2, 4, 10, 8)
    positions = torch.arange(start, start + 10)
    cos, sin = rope_cos_sin(positions, 8, base=500.0)
    hf_cos, hf_sin = LlamaRotaryEmbedding(_llama_config())(q, positions[None])
    torch.testing.assert_close(cos, hf_cos[0]), torch.testing.assert_close(sin, hf_sin[0])
    hf_q, hf_k = apply_rotary_pos_emb(q, k, hf_cos, hf_sin)
    torch.testing.assert_close(apply_rotary(q, cos, sin), hf_q)
    torch.testing.assert_close(apply_rotary(k, cos, sin), hf_k)


def test_rope_scores_depend_only_on_the_distance():
    q, k = torch.randn(8), torch.randn(8)

    def score(m, n):
        cq, sq = rope_cos_sin(torch.tensor([m]), 8)
        ck, sk = rope_cos_sin(torch.tensor([n]), 8)
        return (apply_rotary(q, cq[0], sq[0]) @ apply_rotary(k, ck[0], sk[0])).item()

    assert math.isclose(score(3, 1), score(103, 101), abs_tol=1e-4)
    assert math.isclose(score(0, 0), (q @ k).item(), abs_tol=1e-5)  # position 0: no rotation
    assert not math.isclose(score(3, 1), score(1, 3), abs_tol=1e-3)  # the sign of the distance matters
    x = torch.randn(5, 8)
    cos, sin = rope_cos_sin(torch.arange(5), 8)
    torch.testing.assert_close(apply_rotary(x, cos, sin).norm(dim=-1), x.norm(dim=-1))  # a rotation keeps lengths


def test_interleaved_rope_is_a_reordering_of_the_half_split_layout():
    positions = torch.arange(12)
    # Meta's original Llama code: pairs (x_2i, x_2i+1) as complex numbers, times e^{i m θ_i}
    x = torch.randn(3, 12, 8)
    theta = 1.0 / 10000.0 ** (torch.arange(0, 8, 2).float() / 8)
    rot = torch.polar(torch.ones(12, 4), positions[:, None].float() * theta)
    meta = torch.view_as_real(torch.view_as_complex(x.view(3, 12, 4, 2)) * rot).flatten(-2)
    torch.testing.assert_close(apply_rotary_interleaved(x, positions), meta)
    # a q/k projection trained interleaved, reordered, gives the same attention scores with half-split RoPE
    n_heads, d, C = 2, 8, 16
    h = torch.randn(12, C)
    wq, wk = torch.randn(n_heads * d, C), torch.randn(n_heads * d, C)
    heads = lambda t: t.view(12, n_heads, d).transpose(0, 1)  # noqa: E731
    scores_il = apply_rotary_interleaved(heads(h @ wq.T), positions) @ \
        apply_rotary_interleaved(heads(h @ wk.T), positions).transpose(-1, -2)
    cos, sin = rope_cos_sin(positions, d)
    q_half = apply_rotary(heads(h @ interleaved_to_half(wq, n_heads).T), cos, sin)
    k_half = apply_rotary(heads(h @ interleaved_to_half(wk, n_heads).T), cos, sin)
    torch.testing.assert_close(q_half @ k_half.transpose(-1, -2), scores_il, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(apply_rotary(heads(h @ wq.T), cos, sin) @ apply_rotary(heads(h @ wk.T), cos, sin)
                              .transpose(-1, -2), scores_il, atol=1e-2)  # without the reordering: different


def test_rope_needs_an_even_head_size():
    with pytest.raises(ValueError, match="even"):
        GPT(GPTConfig(vocab_size=10, n_layer=1, n_head=3, n_embd=9, pos="rope"))


# --- MLPs ---------------------------------------------------------------------------------------------

def test_swiglu_matches_llama_mlp():
    from transformers.models.llama.modeling_llama import LlamaMLP

    ours = SwiGLU(32, 48)
    theirs = LlamaMLP(_llama_config())
    with torch.no_grad():
        theirs.gate_proj.weight.copy_(ours.gate.weight)
        theirs.up_proj.weight.copy_(ours.up.weight)
        theirs.down_proj.weight.copy_(ours.proj.weight)
    x = torch.randn(2, 5, 32)
    torch.testing.assert_close(ours(x), theirs(x))


def test_mlp_widths_and_relu_squared():
    assert swiglu_hidden(128) == 352 and swiglu_hidden(384) == 1024
    gelu, swiglu = _gpt(n_embd=128, n_head=4), _gpt(n_embd=128, n_head=4, mlp="swiglu")
    n_gelu, n_swiglu = num_params(gelu.blocks[0].mlp), num_params(swiglu.blocks[0].mlp)
    assert abs(n_swiglu - n_gelu) / n_gelu < 0.04  # about GPT-2's MLP parameter count
    relu2 = _gpt(mlp="relu2").blocks[0].mlp
    x = torch.randn(4, 32)
    torch.testing.assert_close(relu2(x), relu2.proj(F.relu(relu2.fc(x)) ** 2))


# --- attention: QK-norm and grouped-query attention ---------------------------------------------------

def test_attention_with_qk_norm_and_gqa_matches_qwen3_attention():
    from transformers import Qwen3Config
    from transformers.models.qwen3.modeling_qwen3 import Qwen3Attention, Qwen3RotaryEmbedding

    model = _jiggle(_gpt(**MODERN, qk_norm=True, n_kv_head=2))
    ours = model.blocks[0].attn
    config = Qwen3Config(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, head_dim=8, rms_norm_eps=EPS)
    config._attn_implementation = "sdpa"
    theirs = Qwen3Attention(config, 0).eval()
    with torch.no_grad():
        for name, rows in zip(("q_proj", "k_proj", "v_proj"), ours.qkv.weight.split([32, 16, 16])):
            getattr(theirs, name).weight.copy_(rows)
        theirs.o_proj.weight.copy_(ours.proj.weight)
        theirs.q_norm.weight.copy_(ours.q_norm.weight), theirs.k_norm.weight.copy_(ours.k_norm.weight)
    x = torch.randn(2, 10, 32)
    cos, sin = Qwen3RotaryEmbedding(config)(x, torch.arange(10)[None])
    with torch.no_grad():
        torch.testing.assert_close(ours(x, (model.rope_cos[:10], model.rope_sin[:10])), theirs(x, (cos, sin), None)[0])


def test_grouped_query_attention_matches_repeat_kv_and_enable_gqa():
    from transformers.models.llama.modeling_llama import repeat_kv as llama_repeat_kv

    q, k, v = torch.randn(2, 6, 9, 8), torch.randn(2, 2, 9, 8), torch.randn(2, 2, 9, 8)
    torch.testing.assert_close(repeat_kv(k, 3), llama_repeat_kv(k, 3))
    want = F.scaled_dot_product_attention(q, llama_repeat_kv(k, 3), llama_repeat_kv(v, 3), is_causal=True)
    torch.testing.assert_close(attend(q, k, v), want)
    if SDPA_GQA:
        torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), want)
    # query head h uses key/value head h // 3: heads 0-2 share kv head 0
    torch.testing.assert_close(want[:, :3], F.scaled_dot_product_attention(q[:, :3], k[:, :1].expand(2, 3, 9, 8),
                                                                           v[:, :1].expand(2, 3, 9, 8), is_causal=True))


def test_attention_over_a_cache_sees_the_past_and_not_the_future():
    q, k, v = torch.randn(1, 2, 9, 4), torch.randn(1, 2, 9, 4), torch.randn(1, 2, 9, 4)
    full = attend(q, k, v)
    torch.testing.assert_close(attend(q[:, :, 6:], k, v), full[:, :, 6:])  # the last 3 queries over all 9 keys


def test_gqa_shrinks_the_kv_cache():
    sizes = {}
    for n_kv in (4, 2, 1):
        model = _gpt(**MODERN, n_kv_head=n_kv)
        caches = [KVCache() for _ in model.blocks]
        model(torch.zeros(1, 10, dtype=torch.long), caches)
        sizes[n_kv] = sum(c.nbytes() for c in caches)
    assert sizes[4] == 2 * 2 * 10 * 32 * 4 and sizes[4] == 2 * sizes[2] == 4 * sizes[1]  # k and v, 2 layers, fp32


# --- the whole GPT ------------------------------------------------------------------------------------

def test_defaults_are_gpt2s_block():
    model = _gpt()
    names = {n for n, _ in model.named_parameters()}
    assert "pos_emb.weight" in names and "blocks.0.mlp.fc.weight" in names and model.head.weight is model.tok_emb.weight
    assert isinstance(model.ln_f, torch.nn.LayerNorm) and model.blocks[0].attn.qkv.out_features == 3 * 32
    assert not any("norm" in n and "ln" not in n for n in names)


def test_modern_options_build_what_they_say():
    model = _gpt(**MODERN, qk_norm=True, n_kv_head=2, tie_weights=False, zero_init_proj=True, norm_weight=False)
    names = {n for n, _ in model.named_parameters()}
    assert model.pos_emb is None and "pos_emb.weight" not in names
    assert model.head.weight is not model.tok_emb.weight
    assert model.blocks[0].attn.qkv.out_features == 32 + 2 * 2 * 8  # 4 query heads, 2 key and 2 value heads
    assert {"blocks.0.mlp.gate.weight", "blocks.0.mlp.up.weight", "blocks.0.mlp.proj.weight"} <= names
    assert not any("ln" in n or "norm" in n for n in names)  # norm_weight=False: no gains at all
    assert all(p.abs().sum() == 0 for n, p in model.named_parameters() if n.endswith("proj.weight"))
    x = torch.randint(0, 61, (2, 16))
    with torch.no_grad():  # zero projections: every block starts as the identity
        torch.testing.assert_close(model(x), model.head(model.ln_f(model.tok_emb(x))))
    # the untied head's token embedding is a lookup: it costs no FLOPs, and the non-embedding count leaves it out
    assert num_params(model, non_embedding=True) == num_params(model) - model.tok_emb.weight.numel()


@pytest.mark.parametrize("kw", [dict(MODERN), dict(MODERN, qk_norm=True, n_kv_head=1), dict(pos="rope", mlp="relu2")])
def test_modern_gpt_is_causal(kw):
    model = _jiggle(_gpt(**kw))
    x = torch.randint(0, 61, (1, 20))
    y = x.clone()
    y[0, 12:] = (y[0, 12:] + 1) % 61
    with torch.no_grad():
        torch.testing.assert_close(model(x)[:, :12], model(y)[:, :12])


def test_bad_options_are_refused_clearly():
    with pytest.raises(ValueError, match="norm must be one of"):
        GPTConfig(vocab_size=5, norm="batchnorm")
    with pytest.raises(ValueError, match="mlp must be one of"):
        GPTConfig(vocab_size=5, mlp="geglu")
    with pytest.raises(ValueError, match="n_kv_head"):
        GPTConfig(vocab_size=5, n_head=6, n_kv_head=4)


def test_an_old_checkpoint_compares_equal_to_the_defaults():
    state = load_checkpoint(course_dir("data") / "pretrained" / "gpt-shakespeare-3x160.ckpt")
    saved = state["model_spec"]["config"]
    assert "norm" not in saved and "pos" not in saved  # saved before the modern options existed
    model = GPT(GPTConfig(**saved))
    restore_model(state, model)  # no complaint: the missing settings are the defaults
    with pytest.raises(CheckpointError, match="norm=layernorm \\(this model: rmsnorm\\)"):
        restore_model(state, GPT(GPTConfig(**saved | dict(norm="rmsnorm"))))


# --- the KV cache with RoPE and GQA --------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(MODERN), dict(MODERN, qk_norm=True, n_kv_head=2), dict(MODERN, n_kv_head=1),
                                dict(pos="rope", mlp="relu2", norm="rmsnorm", norm_weight=False)])
def test_kv_cache_with_rope_and_gqa_gives_the_same_tokens(kw):
    model = _jiggle(_gpt(**kw))
    idx = torch.randint(0, 61, (3, 6), generator=torch.Generator().manual_seed(2))
    assert torch.equal(generate(model, idx, 20, top_k=1), generate_cached(model, idx, 20, top_k=1))
    a = generate(model, idx[:1], 15, generator=torch.Generator().manual_seed(3))
    b = generate_cached(model, idx[:1], 15, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_kv_cache_positions_are_offset_by_the_cache_length():
    model = _jiggle(_gpt(**MODERN, n_kv_head=2))
    x = torch.randint(0, 61, (2, 20))
    caches = [KVCache() for _ in model.blocks]
    with torch.no_grad():
        out = [model(x[:, :8], caches)]
        assert len(caches[0]) == 8
        out += [model(x[:, t:t + 1], caches) for t in range(8, 20)]  # one at a time: rotated by positions 8 to 19
        torch.testing.assert_close(torch.cat(out, 1), model(x), atol=1e-5, rtol=1e-5)
        with pytest.raises(ValueError, match="block_size"):
            model(x[:, :13], caches)  # 20 cached + 13 new > 32


# --- the whole model in Hugging Face ------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(), dict(n_kv_head=2, tie_weights=False), dict(norm_weight=False, rope_base=500.0),
                                dict(bias=True), dict(qk_norm=True),
                                dict(qk_norm=True, n_kv_head=1, tie_weights=False)])
def test_the_modern_gpt_is_a_llama_or_a_qwen3(kw):
    from lmutils.hf_llama import from_hf, to_hf

    gpt = _jiggle(_gpt(**MODERN, **kw))
    hf = to_hf(gpt).eval()
    assert type(hf).__name__ == ("Qwen3ForCausalLM" if kw.get("qk_norm") else "LlamaForCausalLM")
    idx = torch.randint(0, 61, (2, 32))
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, gpt(idx), atol=1e-5, rtol=1e-5)
        back = from_hf(hf).eval()
        torch.testing.assert_close(back(idx), gpt(idx), atol=1e-5, rtol=1e-5)
    ours = generate(gpt, idx[:1, :5], 12, top_k=1)
    theirs = hf.generate(idx[:1, :5], max_new_tokens=12, do_sample=False)
    assert torch.equal(ours, theirs)


def test_only_the_modern_block_converts():
    from lmutils.hf import to_gpt2
    from lmutils.hf_llama import to_hf

    with pytest.raises(ValueError, match="mlp='relu2' \\(needs 'swiglu'\\)"):
        to_hf(_gpt(norm="rmsnorm", pos="rope", mlp="relu2"))
    with pytest.raises(ValueError, match="lmutils.hf_llama"):
        to_gpt2(_gpt(**MODERN))


def test_offline_llama_loading_falls_back_fast(monkeypatch, capsys):
    from lmutils.bpe import BPETokenizer
    from lmutils.hf_llama import from_hf, load_llama

    import transformers.models.llama.modeling_llama  # noqa: F401  imported first: the clock times the network path
    from transformers import AutoTokenizer  # noqa: F401

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    standin = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                   num_key_value_heads=1)
    hf, tok, pretrained = load_llama("not-a-cached/llama", standin, BPETokenizer([]))
    assert time.perf_counter() - t0 < 5 and not pretrained and hf.config.vocab_size == 256
    assert capsys.readouterr().out.startswith("offline: using a small randomly initialised LlamaConfig stand-in")
    gpt = from_hf(hf.eval()).eval()  # the same code path as for the real model
    idx = torch.randint(0, 256, (1, 9))
    with torch.no_grad():
        torch.testing.assert_close(gpt(idx), hf(idx).logits, atol=1e-5, rtol=1e-5)


# --- the modern presets on the command line -----------------------------------------------------------

def test_the_modern_presets_are_the_ladders_last_rung_and_run_from_the_command(tmp_path, capsys):
    from lmutils.run import main as train_main
    from lmutils.course.ladder import rung_settings
    from lmutils.presets import MODERN_BLOCK, format_preset, get_preset

    cpu = get_preset("modern-char-cpu")
    mlp = {"relu2": "+ ReLU²", "swiglu": "+ SwiGLU"}[MODERN_BLOCK["mlp"]]
    last = rung_settings("+ Muon", mlp, max_iters=cpu["max_iters"])
    assert {k: v for k, v in cpu.items() if k != "about"} == {k: v for k, v in last.items() if k != "about"}
    gpu = get_preset("modern-char")
    assert all(gpu[k] == v for k, v in MODERN_BLOCK.items()) and gpu["optimizer"] == "muon"
    assert (gpu["n_layer"], gpu["n_embd"], gpu["block_size"]) == (6, 384, 256)
    text = format_preset("modern-char-cpu")
    assert "block      RMSNorm, rotary positions (base 10000)" in text and "Muon (lr " in text
    ckpt = tmp_path / "m.pt"
    assert train_main(["--preset", "modern-char-cpu", "--device", "cpu", "--max-iters", "6", "--eval-interval", "3",
                       "--eval-iters", "1", "--no-progress", "--sample", "20", "--checkpoint", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "trained 6 steps" in out
    spec = load_checkpoint(ckpt)["model_spec"]
    assert spec["config"]["pos"] == "rope" and spec["config"]["qk_norm"]


def test_what_the_course_gpt_cannot_express_is_refused_clearly():
    from transformers import LlamaConfig, Qwen3Config

    from lmutils.hf_llama import course_config

    small = dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                 num_key_value_heads=2, rms_norm_eps=EPS)
    config = course_config(LlamaConfig(**small, rope_theta=500.0, tie_word_embeddings=True))
    assert (config.n_kv_head, config.mlp_hidden, config.rope_base, config.qk_norm) == (2, 64, 500.0, False)
    assert course_config(Qwen3Config(**small, head_dim=8)).qk_norm
    with pytest.raises(ValueError, match="head_dim 16"):
        course_config(Qwen3Config(**small, head_dim=16))  # Qwen3-0.6B's kind: wider heads than n_embd / n_head
    with pytest.raises(ValueError, match="rms_norm_eps 1e-06"):
        course_config(LlamaConfig(**small | dict(rms_norm_eps=1e-6)))
    with pytest.raises(ValueError, match="activation 'gelu'"):
        course_config(LlamaConfig(**small, hidden_act="gelu"))
