"""A key-value cache for the course's GPT: generate without recomputing the past.

Without a cache, every new token runs the whole sequence through the model again: O(T) work per token,
O(T²) for T tokens. But the keys and values of past positions never change (attention is causal), so we keep
them, per layer, and run only the newest token: its query attends to the cached keys and values. The GPT's
own attention does the work (CausalSelfAttention.forward with a cache): nothing of it is written twice, and
the same code serves learned or rotary positions (the new tokens are rotated by their own positions) and
grouped-query attention (the cache then holds n_kv_head heads, not n_head).

    out = generate_cached(model, idx, max_new_tokens=200, top_k=1)   # same tokens as generate(..., top_k=1)

Prompts of different lengths go in one batch left-padded (KVCache(pad=...)): every row's prompt then ends in the
same column, so that each step adds one column for all rows; the padding gets no position and no attention.
"""

import torch

from .generate import next_token_probs
from .models import check_context, evaluating


class KVCache:
    """One attention layer's keys and values of the positions seen so far, each (B, n_kv_head, T_seen, head size)."""

    def __init__(self, pad=None):
        self.k = self.v = None
        self.pad = pad  # (B,): how many padding tokens each row begins with (left padding), or None

    def positions(self, T: int, device) -> torch.Tensor:
        """The positions of T new tokens: (T,) counting on from the cache, or (B, T) with each row's real tokens
        at 0, 1, ... as if it were unpadded."""
        cols = torch.arange(len(self), len(self) + T, device=device)
        return cols if self.pad is None else (cols[None] - self.pad[:, None]).clamp(min=0)

    def mask(self, T: int):
        """After extend: (B, 1, T, T_seen), True where the T newest queries may look (causal, never at padding),
        or None without padding (then plain causal attention does)."""
        if self.pad is None:
            return None
        keys = torch.arange(len(self), device=self.pad.device)
        cols = keys[-T:]
        seen = (keys[None, None] <= cols[None, :, None]) & (keys[None, None] >= self.pad[:, None, None])
        return (seen | (keys[None, None] == cols[None, :, None]))[:, None]  # padding looks at itself: no NaN

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def extend(self, k, v):
        """Append the new positions' keys and values; returns all of them, the past first."""
        if self.k is not None:
            if k.size(2) > 1:
                raise ValueError("with a cache, feed one new token at a time (or the whole prompt with an empty cache)")
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v

    def nbytes(self) -> int:
        """Memory the cache holds, in bytes."""
        return 0 if self.k is None else 2 * self.k.numel() * self.k.element_size()


@torch.no_grad()
def generate_cached(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """lmutils.generate.generate with a KV cache: the same tokens, far less work per token. The whole result
    must fit in the model's context (no cropping: cached positions cannot slide)."""
    check_context(idx.size(1) + max_new_tokens, model.block_size)
    caches = [KVCache() for _ in model.blocks]
    with evaluating(model):
        logits = model(idx, caches)[:, -1, :]                  # the prompt, all at once
        for step in range(max_new_tokens):
            probs = next_token_probs(logits, temperature, top_k, top_p)
            nxt = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
            if step < max_new_tokens - 1:
                logits = model(nxt, caches)[:, -1, :]          # the newest token only
    return idx
