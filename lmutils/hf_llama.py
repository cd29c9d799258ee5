"""The course's modern GPT is a Llama (or, with QK-norm, a Qwen3): its weights in Hugging Face's
LlamaForCausalLM / Qwen3ForCausalLM, and back.

    hf_model = to_hf(gpt)          # same logits as gpt (within 1e-5): a Llama, or a Qwen3 if gpt has qk_norm
    gpt = from_hf(hf_model)        # a course GPT from a LlamaForCausalLM or Qwen3ForCausalLM

The course GPT must have the modern block: norm="rmsnorm", pos="rope", mlp="swiglu" (Llama's MLP is gated;
a ReLU² MLP has no Llama counterpart). What differs between the two codes, and how the conversion handles it:
- one fused qkv layer here, q_proj, k_proj and v_proj there: its rows, split (q first; then n_kv_head heads of
  keys, and of values);
- a norm without a learned gain (norm_weight=False) is a gain of ones there;
- both rotate the two halves of each head (the half-split RoPE layout, modern.apply_rotary), with
  θᵢ = rope_base^(−2i/d); Llama: RMSNorm eps from the config (the course's is modern.EPS);
- Qwen3 is Llama plus an RMSNorm on each head's q and k, before the rotation: the course's qk_norm.
The same code runs on the real thing: from_hf(load_llama()[0]) is SmolLM2-135M as a course GPT, online.
"""

import torch

from .hf import online
from .modern import EPS, swiglu_hidden
from .models import GPT, GPTConfig

# course GPT block → Hugging Face decoder layer: (our module, theirs)
_BLOCK_PAIRS = [("ln1", "input_layernorm"), ("attn.proj", "self_attn.o_proj"), ("ln2", "post_attention_layernorm"),
                ("mlp.gate", "mlp.gate_proj"), ("mlp.up", "mlp.up_proj"), ("mlp.proj", "mlp.down_proj")]


def _sub(module, dotted):
    for name in dotted.split("."):
        module = getattr(module, name)
    return module


def check_convertible(config: GPTConfig) -> None:
    wrong = [f"{k}={getattr(config, k)!r} (needs {v!r})" for k, v in
             (("norm", "rmsnorm"), ("pos", "rope"), ("mlp", "swiglu")) if getattr(config, k) != v]
    if config.qk_norm and config.bias:
        wrong.append("bias=True with qk_norm (Qwen3's MLP has no biases)")
    if wrong:
        raise ValueError("only the modern block has a Llama/Qwen3 counterpart: " + ", ".join(wrong))


def hf_config(config: GPTConfig, **overrides):
    """The transformers LlamaConfig (or Qwen3Config when qk_norm) of a course GPTConfig."""
    from transformers import LlamaConfig, Qwen3Config

    check_convertible(config)
    settings = dict(vocab_size=config.vocab_size, hidden_size=config.n_embd, num_hidden_layers=config.n_layer,
                    num_attention_heads=config.n_head, num_key_value_heads=config.n_kv_head or config.n_head,
                    head_dim=config.n_embd // config.n_head,
                    intermediate_size=config.mlp_hidden or swiglu_hidden(config.n_embd),
                    max_position_embeddings=config.block_size, rms_norm_eps=EPS, rope_theta=config.rope_base,
                    attention_bias=config.bias, tie_word_embeddings=config.tie_weights, hidden_act="silu",
                    attention_dropout=config.dropout, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    if config.qk_norm:
        return Qwen3Config(**{**settings, **overrides})
    return LlamaConfig(**{**settings, "mlp_bias": config.bias, **overrides})


@torch.no_grad()
def _copy(src, dst):
    """Weight (ones where src has none) and bias (zeros where src has none) of src into dst."""
    dst.weight.copy_(src.weight if src.weight is not None else torch.ones_like(dst.weight))
    if getattr(dst, "bias", None) is not None:
        dst.bias.copy_(src.bias if getattr(src, "bias", None) is not None else torch.zeros_like(dst.bias))


def to_hf(model: GPT):
    """A transformers LlamaForCausalLM (Qwen3ForCausalLM when model has qk_norm) computing the same logits."""
    from transformers import LlamaForCausalLM, Qwen3ForCausalLM

    c = model.config
    cls = Qwen3ForCausalLM if c.qk_norm else LlamaForCausalLM
    hf = cls(hf_config(c)).to(next(model.parameters()).device)
    q, kv = c.n_embd, (c.n_kv_head or c.n_head) * (c.n_embd // c.n_head)
    with torch.no_grad():
        hf.model.embed_tokens.weight.copy_(model.tok_emb.weight)
        for ours, theirs in zip(model.blocks, hf.model.layers):
            for a, b in _BLOCK_PAIRS:
                _copy(_sub(ours, a), _sub(theirs, b))
            for name, rows in zip(("q_proj", "k_proj", "v_proj"), ours.attn.qkv.weight.split([q, kv, kv])):
                getattr(theirs.self_attn, name).weight.copy_(rows)
            if ours.attn.qkv.bias is not None:
                for name, b in zip(("q_proj", "k_proj", "v_proj"), ours.attn.qkv.bias.split([q, kv, kv])):
                    getattr(theirs.self_attn, name).bias.copy_(b)
            if c.qk_norm:
                _copy(ours.attn.q_norm, theirs.self_attn.q_norm)
                _copy(ours.attn.k_norm, theirs.self_attn.k_norm)
        _copy(model.ln_f, hf.model.norm)
        if not c.tie_weights:
            hf.lm_head.weight.copy_(model.head.weight)
    if c.tie_weights:
        assert hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr(), "the head must be tied"
    return hf.train(model.training)


def course_config(hf_cfg) -> GPTConfig:
    """The course GPTConfig of a transformers LlamaConfig or Qwen3Config, refusing what it cannot express."""
    c = hf_cfg
    rope = getattr(c, "rope_parameters", None) or {"rope_type": "default", "rope_theta": c.rope_theta}
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    problems = []
    if rope.get("rope_type", "default") != "default":
        problems.append(f"RoPE scaling {rope['rope_type']!r}")
    if head_dim * c.num_attention_heads != c.hidden_size:
        problems.append(f"head_dim {head_dim} ≠ hidden_size / num_attention_heads")
    if c.hidden_act != "silu":
        problems.append(f"activation {c.hidden_act!r}")
    if abs(c.rms_norm_eps - EPS) > 1e-12:
        problems.append(f"rms_norm_eps {c.rms_norm_eps} (the course's norms use {EPS})")
    if getattr(c, "mlp_bias", False) != getattr(c, "attention_bias", False):
        problems.append("biases in the attention but not the MLP (or the other way round)")
    if problems:
        raise ValueError("this model does not fit the course GPT: " + "; ".join(problems))
    return GPTConfig(vocab_size=c.vocab_size, block_size=c.max_position_embeddings, n_layer=c.num_hidden_layers,
                     n_head=c.num_attention_heads, n_embd=c.hidden_size, bias=bool(c.attention_bias),
                     norm="rmsnorm", pos="rope", rope_base=float(rope["rope_theta"]), mlp="swiglu",
                     mlp_hidden=c.intermediate_size, qk_norm=c.model_type == "qwen3",
                     n_kv_head=c.num_key_value_heads, tie_weights=bool(c.tie_word_embeddings))


def from_hf(hf) -> GPT:
    """A course GPT with the weights of a LlamaForCausalLM or Qwen3ForCausalLM."""
    config = course_config(hf.config)
    model = GPT(config).to(hf.device)
    with torch.no_grad():
        model.tok_emb.weight.copy_(hf.model.embed_tokens.weight)
        for ours, theirs in zip(model.blocks, hf.model.layers):
            for a, b in _BLOCK_PAIRS:
                _copy(_sub(theirs, b), _sub(ours, a))
            att = theirs.self_attn
            ours.attn.qkv.weight.copy_(torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]))
            if ours.attn.qkv.bias is not None:
                ours.attn.qkv.bias.copy_(torch.cat([att.q_proj.bias, att.k_proj.bias, att.v_proj.bias]))
            if config.qk_norm:
                _copy(att.q_norm, ours.attn.q_norm)
                _copy(att.k_norm, ours.attn.k_norm)
        _copy(hf.model.norm, model.ln_f)
        if not config.tie_weights:
            model.head.weight.copy_(hf.lm_head.weight)
    return model.train(hf.training)


def load_llama(name: str = "HuggingFaceTB/SmolLM2-135M", standin: dict | None = None, standin_tokenizer=None):
    """(model, tokenizer, pretrained): a small real Llama (SmolLM2-135M: 30 layers × 576, 9 heads sharing 3
    key/value heads) when it is in the local cache or the hub answers; otherwise, after one line saying so, a
    randomly initialised LlamaForCausalLM of LlamaConfig(**standin) and standin_tokenizer. Never waits for the
    network (see lmutils.hf.load_gpt2)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    for local_only in (True, False):
        if not local_only and not online():
            break
        try:
            tok = AutoTokenizer.from_pretrained(name, local_files_only=local_only)
            # float32: SmolLM2 is stored in bfloat16, which transformers 5 keeps by default ("auto")
            return LlamaForCausalLM.from_pretrained(name, local_files_only=local_only).float(), tok, True
        except OSError:
            continue
    if standin is None or standin_tokenizer is None:
        raise OSError(f"cannot load {name!r}: not in the local Hugging Face cache and the hub cannot be reached. "
                      "Connect to the internet once (it is cached afterwards), or give a stand-in config and "
                      "tokenizer.")
    print(f"offline: using a small randomly initialised LlamaConfig stand-in ({standin}) instead of {name!r}: "
          "the code below runs the same")
    config = LlamaConfig(**{"vocab_size": standin_tokenizer.vocab_size, "rms_norm_eps": EPS, "bos_token_id": None,
                            "eos_token_id": None, **standin})
    return LlamaForCausalLM(config), standin_tokenizer, False
