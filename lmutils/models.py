"""The reference language models later notebooks import: RNNLM, LSTMLM and a GPT.

Every model maps token ids (B, T) to next-token logits (B, T, vocab_size) and carries a `config`
dataclass, so that checkpoints can rebuild it (see build_model) and refuse a mismatched shape.
"""

import math
from contextlib import contextmanager
from dataclasses import MISSING, asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .modern import RMSNorm, SwiGLU, apply_rotary, attend, relu_squared, rope_cos_sin, swiglu_hidden


@dataclass
class RNNConfig:
    vocab_size: int
    n_embd: int = 64
    n_hidden: int = 256
    n_layer: int = 1
    dropout: float = 0.0


class RNNLM(nn.Module):
    """Embedding → Elman RNN (tanh) → linear: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h), y_t = W_hy h_t + b_y."""

    cell = nn.RNN

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.rnn = self.cell(config.n_embd, config.n_hidden, config.n_layer, batch_first=True,
                             dropout=config.dropout if config.n_layer > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.n_hidden, config.vocab_size)

    def forward(self, idx, state=None, return_state=False):
        out, state = self.rnn(self.drop(self.embed(idx)), state)
        logits = self.head(self.drop(out))
        return (logits, state) if return_state else logits


@dataclass
class LSTMConfig(RNNConfig):
    pass


class LSTMLM(RNNLM):
    """The seed's LSTMModel: embedding → LSTM → linear (with dropout between)."""

    cell = nn.LSTM

    def __init__(self, config: LSTMConfig):
        super().__init__(config)


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 256
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.0
    bias: bool = False
    # the pieces of newer models (lmutils.modern, notebook 11); the defaults are GPT-2's block
    norm: str = "layernorm"         # or "rmsnorm"
    norm_weight: bool = True        # a learned gain in every norm (False: none, as in nanochat)
    pos: str = "learned"            # learned position embeddings, or "rope" (rotary, in the attention)
    rope_base: float = 10000.0
    mlp: str = "gelu"               # GPT-2's MLP, "relu2" (the same with ReLU²) or "swiglu" (Llama's)
    mlp_hidden: int | None = None   # the MLP's width; default 4 · n_embd, for swiglu modern.swiglu_hidden
    qk_norm: bool = False           # RMSNorm on each head's queries and keys (Qwen3)
    n_kv_head: int | None = None    # key/value heads (grouped-query attention); default n_head
    zero_init_proj: bool = False    # the layers that write into the residual stream start at zero
    tie_weights: bool = True        # the output layer shares the token embedding's weight

    def __post_init__(self):
        for f in fields(self):
            if f.type is int and getattr(self, f.name) < 1:
                raise ValueError(f"{f.name} must be at least 1, got {getattr(self, f.name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be at least 0 and below 1, got {self.dropout}")
        for name, allowed in (("norm", NORMS), ("pos", ("learned", "rope")), ("mlp", MLPS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_kv_head is not None and (self.n_kv_head < 1 or self.n_head % self.n_kv_head):
            raise ValueError(f"n_kv_head ({self.n_kv_head}) must divide n_head ({self.n_head}): each key/value head "
                             "serves a group of n_head / n_kv_head query heads")


NORMS = {"layernorm": lambda dim, config: nn.LayerNorm(dim, elementwise_affine=config.norm_weight, bias=config.bias),
         "rmsnorm": lambda dim, config: RMSNorm(dim, weight=config.norm_weight)}
MLPS = ("gelu", "relu2", "swiglu")


def make_norm(config: GPTConfig, dim: int | None = None) -> nn.Module:
    return NORMS[config.norm](dim or config.n_embd, config)



class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.n_embd // config.n_head
        self.kv_dim = (config.n_kv_head or config.n_head) * self.head_dim  # = n_embd without GQA
        self.dropout = config.dropout
        self.causal = True  # set False only to see what goes wrong without the mask (notebook 07)
        self.qkv = nn.Linear(config.n_embd, config.n_embd + 2 * self.kv_dim, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_drop = nn.Dropout(config.dropout)
        self.qk_norm = config.qk_norm
        if config.qk_norm:
            self.q_norm = RMSNorm(self.head_dim, config.norm_weight)
            self.k_norm = RMSNorm(self.head_dim, config.norm_weight)

    def forward(self, x, rope=None, cache=None):
        """x (B, T, C) → (B, T, C). rope: (cos, sin) of x's positions, with rotary positions. cache (generation,
        lmutils.kvcache): the keys and values of the positions before x, which it extends with x's own; x's
        queries then attend to all of them."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split([C, self.kv_dim, self.kv_dim], dim=2)
        q, k, v = (t.view(B, T, -1, self.head_dim).transpose(1, 2) for t in (q, k, v))  # (B, heads, T, hs)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        mask = None
        if cache is not None:
            k, v = cache.extend(k, v)
            mask = cache.mask(T)  # left-padded rows (lmutils.chat): causal, and never at the padding
        y = attend(q, k, v, causal=self.causal, dropout_p=self.dropout if self.training else 0.0, mask=mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        hidden = config.mlp_hidden or 4 * config.n_embd
        self.act = relu_squared if config.mlp == "relu2" else F.gelu
        self.fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.drop(self.proj(self.act(self.fc(x))))


def make_mlp(config: GPTConfig) -> nn.Module:
    if config.mlp == "swiglu":
        return SwiGLU(config.n_embd, config.mlp_hidden or swiglu_hidden(config.n_embd), config.bias, config.dropout)
    return MLP(config)


class Block(nn.Module):
    """Pre-norm Transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1 = make_norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln2 = make_norm(config)
        self.mlp = make_mlp(config)

    def forward(self, x, rope=None, cache=None):
        x = x + self.attn(self.ln1(x), rope, cache)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """A GPT-style decoder: token + learned position embeddings, n_layer pre-norm blocks, a final layer norm
    and a linear head that shares its weight with the token embedding. GPTConfig's other options turn it into
    a modern decoder (RMSNorm, rotary positions, SwiGLU, QK-norm, grouped-query attention: notebook 11)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.block_size = config.block_size
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd) if config.pos == "learned" else None
        if config.pos == "rope":  # cos and sin of every position, computed once (not saved: persistent=False)
            cos, sin = rope_cos_sin(torch.arange(config.block_size), config.n_embd // config.n_head, config.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = make_norm(config)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled init of the projections into the residual stream (GPT-2)
            if name.endswith("proj.weight"):     # (or zero, zero_init_proj: each block starts as the identity)
                nn.init.normal_(p, 0.0, 0.0 if config.zero_init_proj else 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden(self, idx, caches=None):
        """The last hidden states (B, T, n_embd), after the final norm: what the head turns into logits, and
        what a classifier or another head reads (lmutils.finetune). caches: one per block, for generating with
        a KV cache (lmutils.kvcache); idx then continues the cached positions."""
        B, T = idx.shape
        start = len(caches[0]) if caches else 0
        check_context(start + T, self.block_size)
        pos = caches[0].positions(T, idx.device) if caches else torch.arange(T, device=idx.device)
        x = self.tok_emb(idx)
        if self.pos_emb is not None:  # learned positions (GPT-2); with RoPE the attention rotates q and k instead
            x = x + self.pos_emb(pos)
        x = self.drop(x)
        rope = None
        if self.config.pos == "rope":  # (T, hs), or (B, 1, T, hs) for left-padded rows, one position each
            rope = (self.rope_cos[pos], self.rope_sin[pos]) if pos.dim() == 1 else \
                (self.rope_cos[pos][:, None], self.rope_sin[pos][:, None])
        for i, block in enumerate(self.blocks):
            x = block(x, rope, caches[i] if caches else None)
        return self.ln_f(x)

    def forward(self, idx, caches=None):
        return self.head(self.hidden(idx, caches))

    def flops_per_token(self, block_size: int | None = None) -> float:
        """Training FLOPs per token (forward + backward), as in the PaLM paper's appendix B: 6N + 12·L·T·C,
        with T the length of the training windows (default: the model's context, block_size)."""
        c = self.config
        T = block_size or c.block_size
        return 6 * num_params(self, non_embedding=True) + 12 * c.n_layer * T * c.n_embd


@contextmanager
def evaluating(model: nn.Module):
    """Run the block with model in eval mode (no dropout), then put it back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def check_context(T: int, block_size: int) -> None:
    if T > block_size:
        raise ValueError(f"sequence of length {T} is longer than the model's context (block_size={block_size}); "
                         f"crop the input to its last {block_size} tokens")


@dataclass
class TransformerConfig:
    vocab_size: int
    block_size: int = 256
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 200
    n_hidden: int = 200  # width of the feed-forward layer (nhid in the seed)
    dropout: float = 0.2


class TransformerModel(nn.Module):
    """The seed's TransformerModel (PyTorch's word_language_model example), batch first: embedding × √n_embd
    plus sinusoidal positions → nn.TransformerEncoder (post-norm, ReLU) with a causal mask → linear.
    It returns logits, where the seed returned their log_softmax (the same loss under cross-entropy)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        from .attention import PositionalEncoding

        self.config = config
        self.block_size = config.block_size
        self.input_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_encoder = PositionalEncoding(config.n_embd, config.dropout, max_len=config.block_size)
        layer = nn.TransformerEncoderLayer(config.n_embd, config.n_head, config.n_hidden, config.dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.n_layer, enable_nested_tensor=False)
        self.decoder = nn.Linear(config.n_embd, config.vocab_size)
        nn.init.uniform_(self.input_emb.weight, -0.1, 0.1)  # the seed's init_weights
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, idx):
        T = idx.size(1)
        check_context(T, self.block_size)
        # float mask, -inf above the diagonal. nn.Transformer* read a BOOLEAN mask as True = blocked
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=idx.device)
        x = self.pos_encoder(self.input_emb(idx) * math.sqrt(self.config.n_embd))
        return self.decoder(self.encoder(x, mask=mask, is_causal=True))


def num_params(model: nn.Module, non_embedding: bool = False) -> int:
    """Number of parameters (shared weights counted once). non_embedding leaves out the embeddings that are
    looked up, not multiplied, as is usual when counting a GPT's size: the position embeddings, and the token
    embeddings unless they are the output layer too (tied)."""
    n = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    if non_embedding and getattr(model, "pos_emb", None) is not None:
        n -= model.pos_emb.weight.numel()
    if non_embedding and hasattr(model, "tok_emb") and getattr(model, "head", None) is not None \
            and model.head.weight is not model.tok_emb.weight:
        n -= model.tok_emb.weight.numel()
    return n


MODELS = {"rnn": (RNNLM, RNNConfig), "lstm": (LSTMLM, LSTMConfig), "gpt": (GPT, GPTConfig),
          "transformer": (TransformerModel, TransformerConfig)}


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in MODELS.items():
        if type(model) is cls:
            return kind
    raise ValueError(f"{type(model).__name__} is not one of the course's models ({', '.join(MODELS)})")


def model_spec(model: nn.Module) -> dict:
    """What rebuilds the model: its kind and config as plain data."""
    return {"kind": model_kind(model), "config": asdict(model.config)}


def full_spec(spec: dict) -> dict:
    """The spec with every setting of its config spelled out: one saved before a setting existed (an older
    checkpoint) equals the spec of the model built with that setting's default."""
    if spec.get("kind") not in MODELS:
        return spec
    defaults = {f.name: f.default for f in fields(MODELS[spec["kind"]][1]) if f.default is not MISSING}
    return {"kind": spec["kind"], "config": {**defaults, **spec["config"]}}


def build_model(spec: dict) -> nn.Module:
    """The inverse of model_spec: a fresh (untrained) model of that kind and shape."""
    if spec.get("kind") not in MODELS:
        raise ValueError(f"unknown model kind {spec.get('kind')!r}: known kinds are {', '.join(MODELS)}")
    cls, config_cls = MODELS[spec["kind"]]
    return cls(config_cls(**spec["config"]))
