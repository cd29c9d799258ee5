"""A key-value cache for the course's GPT: generate without recomputing the past.

Without a cache, every new token runs the whole sequence through the model again: O(T) work per token,
O(T²) for T tokens. But the keys and values of past positions never change (attention is causal), so we keep
them, per layer, and run only the newest token: its query attends to the cached keys and values.

    out = generate_cached(model, idx, max_new_tokens=200, top_k=1)   # same tokens as generate(..., top_k=1)

The GPT's own attention does the work (models.CausalSelfAttention, given the cache): the same code with
learned or rotary positions (the new tokens are rotated by their own positions, start.. on) and with
grouped-query attention (the cache then holds n_kv_head heads, not n_head).
"""

import torch

from .generate import next_token_probs
from .models import check_context


class KVCache:
    """The keys and values of every position seen so far, per attention layer."""

    def __init__(self):
        self.layers = {}  # attention module → (k, v), each (B, n_kv_head, positions, head_dim)

    @property
    def length(self) -> int:
        """Positions cached: the next token's position."""
        return next(iter(self.layers.values()))[0].size(2) if self.layers else 0

    def update(self, layer, k, v):
        """Append the new positions' keys and values (B, n_kv_head, T_new, head_dim) to layer's; return all."""
        if layer in self.layers:
            past_k, past_v = self.layers[layer]
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        self.layers[layer] = (k, v)
        return k, v

    def nbytes(self) -> int:
        """Memory the cache holds, in bytes."""
        return sum(t.numel() * t.element_size() for kv in self.layers.values() for t in kv)


@torch.no_grad()
def generate_cached(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """lmutils.generate.generate with a KV cache: the same tokens, far less work per token. The whole result
    must fit in the model's context (no cropping: cached positions cannot slide)."""
    check_context(idx.size(1) + max_new_tokens, model.block_size)
    was_training = model.training
    model.eval()
    cache = KVCache()
    logits = model(idx, cache=cache)[:, -1, :]       # the prompt, all at once
    for step in range(max_new_tokens):
        probs = next_token_probs(logits, temperature, top_k, top_p)
        nxt = torch.multinomial(probs, 1, generator=generator)
        idx = torch.cat([idx, nxt], dim=1)
        if step < max_new_tokens - 1:
            logits = model(nxt, cache=cache)[:, -1, :]  # the newest token only
    model.train(was_training)
    return idx
