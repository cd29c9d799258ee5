"""Attention from scratch (notebook 06): scaled dot-product attention, multi-head attention, masks and
sinusoidal positional encodings. Tests keep these equal to PyTorch's own.

Mask convention, the same as F.scaled_dot_product_attention: a boolean mask is True where a query MAY
attend to a key and False where it may not; a float mask is added to the scores (0 allowed, -inf blocked).
Beware: nn.MultiheadAttention and nn.Transformer* read a boolean mask the other way round (True = blocked);
convert with ~mask.
"""

import math

import torch
import torch.nn as nn


def causal_mask(T_q: int, T_k: int | None = None, device=None) -> torch.Tensor:
    """(T_q, T_k) boolean mask, True on and below the diagonal: query t may attend to keys 0..t.
    Aligned to the top-left corner when T_q != T_k, as is_causal=True in F.scaled_dot_product_attention."""
    T_k = T_q if T_k is None else T_k
    return torch.ones(T_q, T_k, dtype=torch.bool, device=device).tril()


def padding_mask(lengths, T: int, device=None) -> torch.Tensor:
    """(B, T) boolean mask, True for the real tokens (position < length) and False for the padding.
    As an attention mask over keys it broadcasts against scores (B, T_q, T_k) as mask[:, None, :], and
    against multi-head scores (B, h, T_q, T_k) as mask[:, None, None, :]."""
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.dim() != 1 or (lengths < 0).any() or (lengths > T).any():
        raise ValueError(f"lengths must be a 1-D list of integers between 0 and T={T}, got {lengths.tolist()}")
    return torch.arange(T, device=lengths.device) < lengths[:, None]


def scaled_dot_product_attention(q, k, v, mask=None, is_causal: bool = False, return_weights: bool = False):
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V over the last two dimensions.

    q: (..., T_q, d_k), k: (..., T_k, d_k), v: (..., T_k, d_v) → (..., T_q, d_v); with return_weights
    also the attention weights (..., T_q, T_k). mask: boolean (True = may attend) or float (added to the
    scores), broadcastable to (..., T_q, T_k). A query that may attend to nothing gets weights 0 and
    output 0, as in F.scaled_dot_product_attention.
    """
    if q.size(-1) != k.size(-1):
        raise ValueError(f"queries and keys must have the same size d_k, got {q.size(-1)} and {k.size(-1)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"there must be one value per key, got {k.size(-2)} keys and {v.size(-2)} values")
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if is_causal:
        scores = scores.masked_fill(~causal_mask(q.size(-2), k.size(-2), q.device), float("-inf"))
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        elif mask.is_floating_point():
            scores = scores + mask
        else:
            raise TypeError("mask must be boolean (True = may attend) or float (added to the scores), "
                            f"got {mask.dtype}")
    empty = (scores == float("-inf")).all(-1, keepdim=True)  # queries that may attend to nothing
    weights = scores.masked_fill(empty, 0.0).softmax(-1).masked_fill(empty, 0.0)
    out = weights @ v
    return (out, weights) if return_weights else out


class MultiHeadAttention(nn.Module):
    """head_i = Attention(X W_q_i, X W_k_i, X W_v_i); MultiHead(X) = Concat(head_1, …, head_h) W_o.

    The n_head heads share one (d_model, d_model) projection per role, split into n_head slices of
    d_k = d_model / n_head. forward returns (output (B, T_q, d_model), weights (B, n_head, T_q, T_k)).
    """

    def __init__(self, d_model: int, n_head: int, bias: bool = True):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_head ({n_head})")
        self.d_model, self.n_head, self.d_k = d_model, n_head, d_model // n_head
        self.W_q = nn.Linear(d_model, d_model, bias=bias)
        self.W_k = nn.Linear(d_model, d_model, bias=bias)
        self.W_v = nn.Linear(d_model, d_model, bias=bias)
        self.W_o = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x):  # (B, T, d_model) → (B, n_head, T, d_k)
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.d_k).transpose(1, 2)

    def forward(self, x, kv=None, mask=None, is_causal: bool = False):
        """Self-attention over x (B, T, d_model), or cross-attention from x to kv (B, T_k, d_model).
        mask: boolean (True = may attend) or float, broadcastable to (B, n_head, T_q, T_k)."""
        kv = x if kv is None else kv
        q, k, v = self.split_heads(self.W_q(x)), self.split_heads(self.W_k(kv)), self.split_heads(self.W_v(kv))
        out, weights = scaled_dot_product_attention(q, k, v, mask, is_causal, return_weights=True)
        B, _, T, _ = out.shape
        return self.W_o(out.transpose(1, 2).reshape(B, T, self.d_model)), weights

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """Copy the weights of an nn.MultiheadAttention of the same size (its in_proj stacks W_q; W_k; W_v)."""
        if (mha.embed_dim, mha.num_heads) != (self.d_model, self.n_head) or not mha._qkv_same_embed_dim:
            raise ValueError(f"need an nn.MultiheadAttention({self.d_model}, {self.n_head}) without kdim/vdim, "
                             f"got embed_dim={mha.embed_dim}, num_heads={mha.num_heads}")
        if (mha.in_proj_bias is None) != (self.W_q.bias is None):
            raise ValueError("both modules must have biases, or neither (bias=...)")
        for ours, w in zip((self.W_q, self.W_k, self.W_v), mha.in_proj_weight.chunk(3)):
            ours.weight.copy_(w)
        self.W_o.weight.copy_(mha.out_proj.weight)
        if mha.in_proj_bias is not None:
            for ours, b in zip((self.W_q, self.W_k, self.W_v), mha.in_proj_bias.chunk(3)):
                ours.bias.copy_(b)
            self.W_o.bias.copy_(mha.out_proj.bias)
        return self

    @torch.no_grad()
    def to_torch(self) -> nn.MultiheadAttention:
        """An nn.MultiheadAttention (batch_first=True) with the same weights."""
        bias = self.W_q.bias is not None
        mha = nn.MultiheadAttention(self.d_model, self.n_head, bias=bias, batch_first=True)
        mha.to(self.W_q.weight.device, self.W_q.weight.dtype)
        mha.in_proj_weight.copy_(torch.cat([self.W_q.weight, self.W_k.weight, self.W_v.weight]))
        mha.out_proj.weight.copy_(self.W_o.weight)
        if bias:
            mha.in_proj_bias.copy_(torch.cat([self.W_q.bias, self.W_k.bias, self.W_v.bias]))
            mha.out_proj.bias.copy_(self.W_o.bias)
        return mha


def sinusoidal_positions(T: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(T, d_model) positional encodings of "Attention Is All You Need":
    PE[pos, 2i] = sin(pos / base^(2i/d_model)),  PE[pos, 2i+1] = cos(pos / base^(2i/d_model))."""
    if d_model % 2:
        raise ValueError(f"d_model must be even for sine/cosine pairs, got {d_model}")
    pos = torch.arange(T, dtype=torch.float32)[:, None]                    # (T, 1)
    freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (d_model/2,)
    pe = torch.zeros(T, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


class PositionalEncoding(nn.Module):
    """The seed's PositionalEncoding (PyTorch's word_language_model example), batch first:
    x (B, T, d_model) → dropout(x + PE[:T]). The table is fixed, not learned."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positions(max_len, d_model), persistent=False)

    def forward(self, x):
        if x.size(1) > self.pe.size(0):
            raise ValueError(f"sequence of length {x.size(1)} is longer than max_len={self.pe.size(0)}")
        return self.dropout(x + self.pe[:x.size(1)])
