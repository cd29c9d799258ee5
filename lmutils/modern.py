"""The pieces of a modern decoder (Llama, Qwen3, Gemma, nanochat), each from its equation.

The course's GPT (lmutils.models) takes them as options of its GPTConfig; the defaults keep GPT-2's block.

- RMSNorm:  y = x / √(mean(x²) + ε) · g. LayerNorm without the mean subtracted and without the shift b:
  cheaper, and as good in practice.
- rotary position embeddings (RoPE): instead of adding a position vector to the input, rotate each pair of
  coordinates of q and k by an angle m·θᵢ that grows with the position m (θᵢ = base^(−2i/d)). Then
  q_m · k_n depends on m − n only: attention sees relative positions, and nothing is learned.
- SwiGLU MLP: down(silu(gate(x)) ⊙ up(x)), a gated MLP (Llama); ReLU² MLP: proj(relu(fc(x))²) (modded-nanogpt,
  nanochat): GPT-2's MLP with another activation.
- QK-norm: an RMSNorm on each head's q and k before the dot product, which keeps the logits q·k bounded.
- grouped-query attention (GQA): fewer key/value heads than query heads, each shared by a group of query
  heads: the KV cache shrinks by n_head / n_kv_head.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-5  # of every norm in the course's GPT (LayerNorm's default)

# F.scaled_dot_product_attention shares key/value heads itself from torch 2.5 (enable_gqa); before, repeat_kv
SDPA_GQA = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 5)


def rms_norm(x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = EPS) -> torch.Tensor:
    """y = x / √(mean(x²) + ε) · g over the last dimension, computed in float32 (as Llama does)."""
    y = x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)
    return (y if weight is None else y * weight).to(x.dtype)


class RMSNorm(nn.Module):
    """rms_norm with a learned gain g (weight=True, as in Llama and Qwen3) or without (nanochat)."""

    def __init__(self, dim: int, weight: bool = True, eps: float = EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if weight else None

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


def rope_frequencies(head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """θᵢ = base^(−2i/d), i = 0 … d/2 − 1: the angle per position of each pair of coordinates."""
    if head_dim % 2:
        raise ValueError(f"rotary embeddings rotate pairs of coordinates: the head size ({head_dim}) must be even")
    return 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10000.0):
    """cos(m·θᵢ) and sin(m·θᵢ) for positions m, each (T, head_dim): the d/2 angles twice over, once for each
    half of a head (the half-split layout of Llama in Hugging Face's code)."""
    angles = positions.float()[:, None] * rope_frequencies(head_dim, base)[None, :]  # (T, d/2)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (..., T, d) position by position: coordinate i is paired with i + d/2 and the pair (a, b)
    becomes (a cos − b sin, a sin + b cos). The interleaved layout (GPT-J, Meta's first Llama code) pairs
    2i with 2i + 1 instead: the same rotation of differently ordered coordinates (see interleaved_to_half)."""
    a, b = x.chunk(2, dim=-1)
    rotated = torch.cat([-b, a], dim=-1)  # Hugging Face's rotate_half
    return (x * cos + rotated * sin).to(x.dtype)


def interleaved_to_half(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """The rows of a q or k projection trained with interleaved RoPE (pairs 2i, 2i+1), reordered for the
    half-split layout (pairs i, i + d/2): within each head, the even rows first, then the odd ones. The model
    computes the same attention (Hugging Face's convert_llama_weights_to_hf does this to Meta's weights)."""
    out, inp = weight.shape
    d = out // n_heads
    return weight.view(n_heads, d // 2, 2, inp).transpose(1, 2).reshape(out, inp)


def apply_rotary_interleaved(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE in the interleaved layout: pairs (x₀, x₁), (x₂, x₃), … rotated by m·θ₀, m·θ₁, …"""
    angles = positions.float()[:, None] * rope_frequencies(x.size(-1), base)[None, :]
    cos, sin = angles.cos(), angles.sin()
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, n_kv_head, T, d) → (B, n_kv_head · n_rep, T, d): key/value head j serves query heads
    j·n_rep … (j+1)·n_rep − 1, as Llama's repeat_kv and enable_gqa do."""
    return x if n_rep == 1 else x.repeat_interleave(n_rep, dim=1)


def attend(q, k, v, causal: bool = True, dropout_p: float = 0.0, mask=None) -> torch.Tensor:
    """softmax(q kᵀ/√d) v for q (B, n_head, T, d) and k, v (B, n_kv_head, S, d): n_kv_head may divide n_head
    (grouped-query attention), and S ≥ T when k and v also hold S − T earlier positions (a KV cache): query t
    then sits at position S − T + t and sees the keys up to there. mask (True: may attend), when given, replaces
    the causal one (a KV cache of left-padded rows makes it)."""
    T, S = q.size(2), k.size(2)
    if mask is None and causal and S > T:
        mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
    kwargs = dict(attn_mask=mask, is_causal=causal and S == T and mask is None, dropout_p=dropout_p)
    n_rep = q.size(1) // k.size(1)
    if n_rep > 1 and SDPA_GQA:
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True, **kwargs)
    return F.scaled_dot_product_attention(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), **kwargs)


def relu_squared(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x).square()


class SwiGLU(nn.Module):
    """Llama's MLP: down(silu(gate(x)) ⊙ up(x)). The down projection is called proj, as in the GPT's MLP."""

    def __init__(self, n_embd: int, hidden: int, bias: bool = False, dropout: float = 0.0):
        super().__init__()
        self.gate = nn.Linear(n_embd, hidden, bias=bias)
        self.up = nn.Linear(n_embd, hidden, bias=bias)
        self.proj = nn.Linear(hidden, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.proj(F.silu(self.gate(x)) * self.up(x)))


def swiglu_hidden(n_embd: int) -> int:
    """SwiGLU's width at GPT-2's MLP parameter count: three matrices instead of two, so 2/3 of 4 · n_embd,
    rounded up to a multiple of 32."""
    return 32 * math.ceil(math.ceil(8 * n_embd / 3) / 32)
