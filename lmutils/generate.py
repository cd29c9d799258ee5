"""Sampling text from a language model: temperature, top-k and top-p (nucleus)."""

import torch
import torch.nn.functional as F

from .models import evaluating


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
    """Turn next-token logits (..., V) into the distribution we sample from.

    temperature divides the logits (below 1 sharpens, above 1 flattens); top_k keeps the k most likely
    tokens; top_p keeps the smallest set of most likely tokens whose probability adds up to at least p.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (for greedy decoding use top_k=1)")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cum - sorted_logits.softmax(-1) >= top_p  # mass before this token already reaches p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return F.softmax(logits, dim=-1)


@torch.no_grad()
def generate(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, generator: torch.Generator | None = None,
             context: int | None = None) -> torch.Tensor:
    """Extend idx (B, T) by max_new_tokens sampled tokens. The model sees at most `context` tokens
    (default: its block_size, or 256 for recurrent models)."""
    context = context or getattr(model, "block_size", 256)
    with evaluating(model):
        for _ in range(max_new_tokens):
            logits = model(idx[:, -context:])[:, -1, :]
            probs = next_token_probs(logits, temperature, top_k, top_p)
            nxt = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
    return idx


def sample_text(model, tokenizer, prompt: str = "\n", max_new_tokens: int = 300, seed: int | None = 0,
                **kwargs) -> str:
    """Generate text after a prompt; returns prompt + continuation. Raises a clear error for characters
    the model never saw."""
    if not prompt:
        raise ValueError("the prompt is empty: give at least one character, e.g. '\\n'")
    device = next(model.parameters()).device
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=device)
    generator = None
    if seed is not None:
        # multinomial on CPU and on GPU need a generator on their own device
        generator = torch.Generator(device=device).manual_seed(seed)
    out = generate(model, idx, max_new_tokens, generator=generator, **kwargs)
    return tokenizer.decode(out[0])
