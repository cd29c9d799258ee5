"""Fine-tuning a pre-trained GPT: a classification head, LoRA adapters, freezing, and the data of notebook 09.

    body, tok = load_model("data/pretrained/gpt-shakespeare-3x160.ckpt")
    clf = GPTClassifier(body, n_classes=2)              # mean-pooled body.hidden(x) -> linear head
    freeze(clf.body)                                    # only the head trains ...
    add_lora(clf.body, rank=4)                          # ... or low-rank adapters on attention's qkv and proj
    train_classifier(clf, x, mask, y, steps=200, lr=1e-3, head_lr=1e-2)
    accuracy(clf, x_test, mask_test, y_test)

LoRA (Hu et al., 2021) leaves a pre-trained weight W (out × in) frozen and learns a low-rank change:

    y = W x + (alpha / r) · B A x        A: r × in (small random), B: out × r (zeros)

B starts at zero, so at the start the adapted model is exactly the pre-trained one; only r·(in + out)
numbers per layer train. After training, W + (alpha / r) · B A is an ordinary weight (merge_lora): no extra
cost at inference.
"""

import math
import random
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from .models import GPT, evaluating


# --- a classification head on the pre-trained body's hidden states ------------------------------------

class GPTClassifier(nn.Module):
    """A pre-trained GPT body, its last hidden states averaged over the real (unpadded) tokens, then one
    linear layer to n_classes logits. pool="last" takes the last real token's state instead."""

    def __init__(self, body: GPT, n_classes: int, pool: str = "mean"):
        super().__init__()
        if pool not in ("mean", "last"):
            raise ValueError(f"pool must be 'mean' or 'last', got {pool!r}")
        self.body, self.pool = body, pool
        self.head = nn.Linear(body.config.n_embd, n_classes)
        nn.init.zeros_(self.head.weight)  # start from "no opinion": uniform class probabilities
        nn.init.zeros_(self.head.bias)

    def features(self, idx: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n_embd): the pooled hidden state of each sequence. mask (B, T) is 1 for real tokens, 0 for
        padding (padding goes at the end: with causal attention it cannot change the real tokens' states)."""
        h = self.body.hidden(idx)
        mask = torch.ones(idx.shape, device=idx.device) if mask is None else mask.to(h.dtype)
        if self.pool == "last":
            last = mask.sum(1).long().clamp(min=1) - 1
            return h[torch.arange(len(h), device=h.device), last]
        return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)

    def forward(self, idx: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(idx, mask))


# --- freezing and counting ---------------------------------------------------------------------------

def freeze(module: nn.Module) -> nn.Module:
    """Stop every parameter of module from training (requires_grad = False); returns the module."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def trainable_params(model: nn.Module) -> int:
    """Number of parameters that train (requires_grad), shared weights counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


# --- LoRA -------------------------------------------------------------------------------------------

class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update: y = base(x) + (alpha / rank) · B(A(x)).
    A is initialised like a Linear layer (small random), B to zeros, so the output starts unchanged."""

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float | None = None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRA adapts nn.Linear layers, got {type(base).__name__}")
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        self.base = freeze(base)
        self.rank = rank
        self.scale = (alpha if alpha is not None else rank) / rank
        self.A = nn.Parameter(torch.empty(rank, base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear initialises its weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * F.linear(F.linear(x, self.A), self.B)

    def merged_weight(self) -> torch.Tensor:
        """W + (alpha / rank) · B A: one ordinary weight that computes the same as base + adapter."""
        return self.base.weight + self.scale * self.B @ self.A


LORA_TARGETS = (r"attn\.qkv", r"attn\.proj")


def add_lora(model: nn.Module, rank: int = 4, alpha: float | None = None, targets=LORA_TARGETS) -> list[str]:
    """Freeze model and replace each nn.Linear whose name matches one of targets (regular expressions,
    default: attention's qkv and proj) with a LoRALinear around it. Returns the names replaced."""
    freeze(model)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)
             and any(re.search(t, n) for t in targets)]
    if not names:
        raise ValueError(f"no nn.Linear layer of the model matches {targets}: the Linear layers are "
                         f"{[n for n, m in model.named_modules() if isinstance(m, nn.Linear)]}")
    for name in names:
        parent, _, attr = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, attr, LoRALinear(getattr(owner, attr), rank, alpha))
    return names


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRALinear by a plain nn.Linear holding its merged weight (in place); returns model."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            base = module.base
            merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                               device=base.weight.device, dtype=base.weight.dtype)
            merged.weight.copy_(module.merged_weight())
            if base.bias is not None:
                merged.bias.copy_(base.bias)
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, merged)
    return model


# --- training and scoring a classifier ------------------------------------------------------------

def train_classifier(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, steps: int = 200,
                     lr: float = 1e-3, batch_size: int = 32, weight_decay: float = 0.0, seed: int = 0,
                     device=None, head_lr: float | None = None) -> list[float]:
    """Fine-tune whatever in model requires grad with AdamW on cross-entropy, batches drawn at random.
    head_lr: a learning rate of its own for model.head (default: lr). The head starts at zero and has
    everything to learn, the body little: a small lr for the body and a larger one for the head.
    Returns the training loss of every step."""
    device = device or next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: every parameter is frozen (requires_grad=False)")
    if head_lr is None:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        head = {id(p) for p in model.head.parameters() if p.requires_grad}
        groups = [dict(params=[p for p in params if id(p) not in head], lr=lr),
                  dict(params=[p for p in params if id(p) in head], lr=head_lr)]
        opt = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(steps):
        i = torch.randint(len(x), (batch_size,), generator=gen)
        loss = F.cross_entropy(model(x[i].to(device), mask[i].to(device)), y[i].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, batch_size: int = 256, device=None) -> torch.Tensor:
    """Predicted class of every sequence (a 1-D tensor on the CPU)."""
    device = device or next(model.parameters()).device
    with evaluating(model):
        out = [model(x[i:i + batch_size].to(device), mask[i:i + batch_size].to(device)).argmax(-1).cpu()
               for i in range(0, len(x), batch_size)]
    return torch.cat(out)


def accuracy(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> float:
    return (predict(model, x, mask) == y.cpu()).float().mean().item()


def confusion_matrix(y_true, y_pred, n_classes: int) -> torch.Tensor:
    """counts[i, j]: examples of class i predicted as class j."""
    y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
    return torch.bincount(y_true * n_classes + y_pred, minlength=n_classes ** 2).view(n_classes, n_classes)


# --- the data: tiny Shakespeare's speeches by speaker, and real or shuffled lines ---------------------

SPEAKER = re.compile(r"^([A-Z][A-Za-z' ]*):$")


def speeches(text: str) -> list[tuple[str, str, int]]:
    """Split a play's text into speeches: (speaker, what they say, offset of the speech in text). A speech
    is a paragraph (blank-line separated) whose first line is a header like "ROMEO:"."""
    out, pos = [], 0
    for para in text.split("\n\n"):
        first, _, body = para.partition("\n")
        m = SPEAKER.match(first)
        if m and body.strip():
            out.append((m.group(1), body, pos))
        pos += len(para) + 2
    return out


def plain(line: str) -> str:
    """line in lower case, without punctuation (apostrophes stay: "o'er"), one space between words: what is
    left is the words and their order."""
    return " ".join(re.sub(r"[^a-z' ]", " ", line.lower()).split())


def shuffle_words(line: str, rng: random.Random) -> str:
    """The words of line in a random order that is not the original one. A line needs two different words."""
    words = line.split()
    if len(set(words)) < 2:
        raise ValueError(f"cannot shuffle {line!r}: it needs at least two different words")
    while True:
        order = words[:]
        rng.shuffle(order)
        if order != words:
            return " ".join(order)


def real_or_shuffled(lines: list[str], seed: int = 0) -> list[tuple[str, int]]:
    """A labelled task made from unlabelled lines: the lines in a random order, every second one with its words
    shuffled. Returns [(text, label)], label 1 for a real line and 0 for a shuffled one, half of each."""
    rng = random.Random(seed)
    lines = list(lines)
    rng.shuffle(lines)
    return [(line, 1) if i % 2 == 0 else (shuffle_words(line, rng), 0) for i, line in enumerate(lines)]


def pad_batch(texts: list[str], tokenizer, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode texts cropped to their first `length` characters, padded at the end with token 0:
    (ids (N, length), mask (N, length) with 1 for real characters)."""
    x = torch.zeros(len(texts), length, dtype=torch.long)
    mask = torch.zeros(len(texts), length)
    for i, t in enumerate(texts):
        ids = tokenizer.encode(t[:length])
        if not ids:
            raise ValueError(f"text {i} is empty: every example needs at least one character")
        x[i, :len(ids)] = torch.tensor(ids)
        mask[i, :len(ids)] = 1
    return x, mask
