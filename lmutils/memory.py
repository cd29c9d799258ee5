"""How much memory a training step needs, estimated before anything runs: will this fit a 15 GB T4?

    with torch.device("meta"):               # shapes only: no memory, no arithmetic
        model = GPT(GPTConfig(65, n_layer=6, n_head=6, n_embd=384, block_size=256))
    training_memory(model, torch.randint(0, 65, (64, 256), device="meta"))

A step holds, at its peak (the start of the backward pass):
- the parameters, their gradients and AdamW's two moments: 4 numbers per parameter, 16 bytes in float32;
- the activations: every tensor the forward pass saved for the backward one. They are counted exactly, by
  running the forward pass on the meta device (tensors with shapes and no data) and adding up what autograd
  saves (torch.autograd.graph.saved_tensors_hooks), each storage once;
- the backward pass's own working memory: about twice the largest activation (the gradient flowing back and
  the one being computed).
Counted in float32. Under autocast most activations are kept in 16 bits instead (and a 16-bit copy of each
weight is added), so a mixed-precision run needs less than this. The CUDA context (a few hundred MB) and the
allocator's fragmentation come on top: leave headroom.
"""

import torch
import torch.nn.functional as F


def saved_activations(forward) -> tuple[int, int]:
    """(bytes of all tensors autograd saves while forward() runs, bytes of the largest), each storage once."""
    kept = {}

    def pack(t):
        base = t if t._base is None else t._base  # a view keeps its whole storage alive
        kept[id(base)] = (base, base.numel() * base.element_size())  # the tensor itself keeps its id unique
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    sizes = [b for _, b in kept.values()] or [0]
    return sum(sizes), max(sizes)


def training_memory(model, idx, targets=None) -> dict:
    """Bytes one training step of a language model needs at its peak: the parameters, their gradients and AdamW's
    state, the activations of a forward pass on the batch idx (B, T) and the loss against targets (default idx),
    and the backward pass's working memory. The model and idx may (and for big ones should) live on the meta
    device. Returns the parts and their "total"."""
    targets = idx if targets is None else targets

    def forward():
        out = model(idx)
        logits = out.logits if hasattr(out, "logits") else out  # a Hugging Face model's output
        F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())

    params = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() * p.element_size() for p in model.parameters() if not p.requires_grad)
    activations, largest = saved_activations(forward)
    parts = {"parameters": params + frozen, "gradients": params, "adamw": 2 * params,
             "activations": activations, "backward": 2 * largest}
    return parts | {"total": sum(parts.values())}
