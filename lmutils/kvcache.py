"""A key-value cache for the course's GPT: generate without recomputing the past.

Without a cache, every new token runs the whole sequence through the model again: O(T) work per token,
O(T²) for T tokens. But the keys and values of past positions never change (attention is causal), so we keep
them, per layer, and run only the newest token: its query attends to the cached keys and values.

    out = generate_cached(model, idx, max_new_tokens=200, top_k=1)   # same tokens as generate(..., top_k=1)

Prompts of different lengths go in one batch left-padded (forward_cached's pad): every row's prompt then ends in
the same column, so that each step adds one column for all rows; the padding gets no position and no attention.
"""

import torch
import torch.nn.functional as F

from .generate import next_token_probs
from .models import check_context


def attention_step(attn, x, cache, mask=None):
    """CausalSelfAttention `attn` on the new positions x (B, T_new, C), with the past in cache = (k, v) or None.
    mask (B, 1, T_new, T_past + T_new), True where a query may look, replaces the causal mask when given.
    Returns the output and the cache with the new keys and values appended."""
    B, T, C = x.shape
    q, k, v = attn.qkv(x).split(C, dim=2)
    q, k, v = (t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
    if cache is not None:
        k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
    if T > 1 and cache is not None:
        raise ValueError("with a cache, feed one new token at a time (or the whole prompt with an empty cache)")
    # the prompt (empty cache): causal; one new token: it may look at every cached position
    if mask is not None:
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    else:
        y = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None and T > 1)
    y = y.transpose(1, 2).contiguous().view(B, T, C)
    return attn.proj(y), (k, v)


def forward_cached(model, idx, caches, start: int, pad=None):
    """The GPT's logits for the new tokens idx (B, T_new) at columns start.., updating caches (one per block).
    pad (B,): how many padding tokens each row begins with (left padding). A row's real tokens then take the
    positions 0, 1, ... as if unpadded, and no real token attends to padding."""
    cols = torch.arange(start, start + idx.size(1), device=idx.device)
    pos, mask = cols, None
    if pad is not None:
        pos = (cols[None] - pad[:, None]).clamp(min=0)                          # (B, T_new)
        keys = torch.arange(start + idx.size(1), device=idx.device)
        causal = (keys[None, None] <= cols[None, :, None]) & (keys[None, None] >= pad[:, None, None])
        mask = (causal | (keys[None, None] == cols[None, :, None]))[:, None]  # padding looks at itself: no NaN
    x = model.tok_emb(idx) + model.pos_emb(pos)
    for i, block in enumerate(model.blocks):
        a, caches[i] = attention_step(block.attn, block.ln1(x), caches[i], mask)
        x = x + a
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x))


@torch.no_grad()
def generate_cached(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """lmutils.generate.generate with a KV cache: the same tokens, far less work per token. The whole result
    must fit in the model's context (no cropping: cached positions cannot slide)."""
    check_context(idx.size(1) + max_new_tokens, model.block_size)
    was_training = model.training
    model.eval()
    caches = [None] * len(model.blocks)
    logits = forward_cached(model, idx, caches, 0)[:, -1, :]       # the prompt, all at once
    for step in range(max_new_tokens):
        probs = next_token_probs(logits, temperature, top_k, top_p)
        nxt = torch.multinomial(probs, 1, generator=generator)
        idx = torch.cat([idx, nxt], dim=1)
        if step < max_new_tokens - 1:
            logits = forward_cached(model, nxt, caches, idx.size(1) - 1)[:, -1, :]  # the newest token only
    model.train(was_training)
    return idx
