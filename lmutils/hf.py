"""The course's GPT is GPT-2's architecture: its weights in Hugging Face's GPT2LMHeadModel, and back.

    hf_model = to_gpt2(gpt)        # same logits as gpt (within 1e-5)
    gpt = from_gpt2(hf_model)      # a course GPT (with biases) from a GPT2LMHeadModel

What differs between the two codes, and how the conversion handles it:
- GPT-2's linear layers are `Conv1D`s: y = x W + b with W of shape (in, out), the transpose of nn.Linear's.
- GPT-2 always has biases (linear layers and layer norms); the course GPT may have none (bias=False): zeros.
- activation: GPT-2 uses GELU's tanh approximation ("gelu_new"); the course GPT uses the exact GELU, so the
  converted model gets activation_function="gelu". Converting the real GPT-2 back gives the course GPT an
  exact GELU: its logits then differ a little from GPT-2's (see from_gpt2).
- both: learned position embeddings, pre-norm blocks, LayerNorm eps 1e-5, output layer tied to wte.

`transformers` is imported only inside these functions: `import lmutils` never needs it. load_gpt2 loads the
seed's pretrained model when it can, and falls back quickly to a small stand-in when there is no network.
"""

import os
import socket
import threading

import torch

from .models import GPT, GPTConfig

# course GPT block → GPT-2 block: (our module, GPT-2's module, is a Conv1D)
_BLOCK_PAIRS = [("ln1", "ln_1", False), ("attn.qkv", "attn.c_attn", True), ("attn.proj", "attn.c_proj", True),
                ("ln2", "ln_2", False), ("mlp.fc", "mlp.c_fc", True), ("mlp.proj", "mlp.c_proj", True)]


GPT2_BLOCK = dict(norm="layernorm", norm_weight=True, pos="learned", mlp="gelu", qk_norm=False, tie_weights=True)


def gpt2_config(config: GPTConfig, **overrides):
    """The transformers.GPT2Config of a course GPTConfig (exact GELU, no dropout unless the course's)."""
    from transformers import GPT2Config

    settings = dict(vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd,
                    n_layer=config.n_layer, n_head=config.n_head, activation_function="gelu",
                    layer_norm_epsilon=1e-5, resid_pdrop=config.dropout, embd_pdrop=config.dropout,
                    attn_pdrop=config.dropout, tie_word_embeddings=True, bos_token_id=None, eos_token_id=None)
    return GPT2Config(**{**settings, **overrides})


def _sub(module, dotted):
    for name in dotted.split("."):
        module = getattr(module, name)
    return module


@torch.no_grad()
def _copy(src, dst, transpose: bool):
    """Weight and bias of src into dst (transposed for a Conv1D on either side); a missing bias is zero."""
    dst.weight.copy_(src.weight.t() if transpose else src.weight)
    if dst.bias is not None:
        dst.bias.copy_(src.bias if src.bias is not None else torch.zeros_like(dst.bias))
    elif src.bias is not None and src.bias.abs().max() > 0:
        raise ValueError("the source has non-zero biases but the target has none: build it with bias=True")


def to_gpt2(model: GPT):
    """A transformers.GPT2LMHeadModel computing the same logits as the course's GPT `model`."""
    from transformers import GPT2LMHeadModel

    c = model.config
    modern = {k: getattr(c, k) for k, v in GPT2_BLOCK.items() if getattr(c, k) != v}
    if (c.n_kv_head or c.n_head) != c.n_head:
        modern["n_kv_head"] = c.n_kv_head
    if c.mlp_hidden not in (None, 4 * c.n_embd):
        modern["mlp_hidden"] = c.mlp_hidden
    if modern:
        raise ValueError(f"GPT-2 has none of {', '.join(f'{k}={v!r}' for k, v in modern.items())}: a GPT with the "
                         "modern block is a Llama or a Qwen3 (lmutils.hf_llama.to_hf)")
    hf = GPT2LMHeadModel(gpt2_config(model.config)).to(next(model.parameters()).device)
    t = hf.transformer
    with torch.no_grad():
        t.wte.weight.copy_(model.tok_emb.weight)  # lm_head shares it (tie_word_embeddings)
        t.wpe.weight.copy_(model.pos_emb.weight)
        for ours, theirs in zip(model.blocks, t.h):
            for a, b, conv in _BLOCK_PAIRS:
                _copy(_sub(ours, a), _sub(theirs, b), conv)
        _copy(model.ln_f, t.ln_f, False)
    assert hf.lm_head.weight.data_ptr() == t.wte.weight.data_ptr(), "GPT-2's output layer must be tied to wte"
    return hf.train(model.training)


def from_gpt2(hf) -> GPT:
    """A course GPT (bias=True) with the weights of a GPT2LMHeadModel. The course GPT's GELU is exact: for a
    model trained with "gelu_new" (the real GPT-2) the logits differ slightly (about 1e-3)."""
    c = hf.config
    if c.n_inner not in (None, 4 * c.n_embd):
        raise ValueError(f"the course GPT's MLP is 4 × n_embd wide; this model's n_inner is {c.n_inner}")
    model = GPT(GPTConfig(vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer, n_head=c.n_head,
                          n_embd=c.n_embd, bias=True)).to(hf.device)
    t = hf.transformer
    with torch.no_grad():
        model.tok_emb.weight.copy_(t.wte.weight)
        model.pos_emb.weight.copy_(t.wpe.weight)
        for ours, theirs in zip(model.blocks, t.h):
            for a, b, conv in _BLOCK_PAIRS:
                _copy(_sub(theirs, b), _sub(ours, a), conv)
        _copy(t.ln_f, model.ln_f, False)
    return model.train(hf.training)


# --- the seed's pretrained GPT-2, or a stand-in offline -----------------------------------------------

def online(host: str = "huggingface.co", port: int = 443, timeout: float = 1.0) -> bool:
    """Whether host answers within `timeout` seconds (name lookup included: it runs in a thread, since
    a lookup can hang far longer than a socket's timeout). False at once when HF_HUB_OFFLINE is set."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        return False
    ok = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(ok)


def load_gpt2(name: str | None = "gpt2", standin: dict | None = None, standin_tokenizer=None):
    """(model, tokenizer, pretrained): the seed's GPT2LMHeadModel.from_pretrained(name) and
    GPT2TokenizerFast when the model is in the local cache or the hub answers; otherwise, after one
    line saying so, a randomly initialised GPT2LMHeadModel of GPT2Config(**standin) and standin_tokenizer
    (anything with encode/decode, such as our BPETokenizer). Never waits for the network: the hub is only
    asked after a one-second connectivity check succeeds. name=None asks for the stand-in straight away
    (notebook 10's CPU sizes: GPT-2 fine-tunes for minutes on a CPU; the notebook says so)."""
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    for local_only in (True, False) if name else ():
        if not local_only and not online():
            break
        try:
            tok = GPT2TokenizerFast.from_pretrained(name, local_files_only=local_only)
            return GPT2LMHeadModel.from_pretrained(name, local_files_only=local_only), tok, True
        except OSError:
            continue
    if standin is None or standin_tokenizer is None:
        raise OSError(f"cannot load {name!r}: not in the local Hugging Face cache and the hub cannot be reached. "
                      "Connect to the internet once (it is cached afterwards), or give a stand-in config and "
                      "tokenizer." if name else "name=None asks for the stand-in: give its config and tokenizer")
    if name:
        print(f"offline: using a small randomly initialised GPT2Config stand-in ({standin}) and our own BPE "
              f"instead of {name!r}: the code below runs the same")
    config = GPT2Config(**{"vocab_size": standin_tokenizer.vocab_size, "bos_token_id": None, "eos_token_id": None,
                           **standin})
    return GPT2LMHeadModel(config), standin_tokenizer, False
