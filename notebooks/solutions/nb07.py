"""Solutions to notebook 07's exercises (a Transformer language model)."""

import torch


def gpt_params(vocab_size, block_size, n_layer, n_embd, bias):
    C = n_embd
    block = 12 * C ** 2 + 2 * C                        # attention 4C², MLP 8C², two layer-norm gains
    if bias:
        block += (3 * C + C + 4 * C + C) + 2 * C        # the four Linear layers' biases, the two norms' shifts
    final = 2 * C if bias else C                       # ln_f; the head is tied to tok_emb, without a bias
    return vocab_size * C + block_size * C + n_layer * block + final


def post_norm_block(b, x):
    x = b.ln1(x + b.attn(x))                           # normalise after the addition
    return b.ln2(x + b.mlp(x))


def top_k_probs(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]   # each row's k-th largest logit
    return logits.masked_fill(logits < kth, float("-inf")).softmax(-1)


def top_p_probs(logits, p):
    probs, order = logits.softmax(-1).sort(dim=-1, descending=True)
    before = probs.cumsum(-1) - probs                  # mass of the more likely tokens, row by row
    probs = probs.masked_fill(before >= p, 0.0)        # already reached p without this token
    kept = torch.zeros_like(probs).scatter(-1, order, probs)
    return kept / kept.sum(-1, keepdim=True)


# found by measuring evaluate(model, val_ids[:20_000], c) for c = 8, 16, 32, 64, 128, then between 32 and 64
context_length = 48

SOLUTIONS = {"gpt_params": gpt_params, "post_norm_block": post_norm_block, "top_k": top_k_probs,
             "top_p": top_p_probs, "context_length": context_length}


def _pre_norm(b, x):                                   # the GPT's block: the cell above, renamed
    x = x + b.attn(b.ln1(x))
    return x + b.mlp(b.ln2(x))


def _top_p_without_the_crossing_token(logits, p):
    probs, order = logits.softmax(-1).sort(dim=-1, descending=True)
    drop = probs.cumsum(-1) > p                        # drops the token that crosses p
    drop[..., 0] = False
    probs = probs.masked_fill(drop, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, probs)
    return kept / kept.sum(-1, keepdim=True)


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "gpt_params": [
        (lambda V, T, L, C, bias: gpt_params(V, T, L, C, bias) + V * C, "one matrix too many"),     # untied head
        (lambda V, T, L, C, bias: gpt_params(V, T, L, C, bias) - T * C, "position embeddings"),
        (lambda V, T, L, C, bias: gpt_params(V, T, L, C, False) - (2 * L + 1) * C, "layer norms"),
        (lambda V, T, L, C, bias: gpt_params(V, T, L, C, False), "bias"),
        (lambda V, T, L, C, bias: V * C + T * C + L * 4 * C * C, "List the model's parts", "n_layer·(12·C² + __·C"),
    ],
    "post_norm_block": [
        (_pre_norm, "pre-norm block"),
        (lambda b, x: (lambda h: b.ln1(h + b.mlp(h)))(b.ln2(x + b.attn(x))), "swapped"),
        (lambda b, x: b.ln2(b.mlp(b.ln1(b.attn(x)))), "residual connections"),
        (lambda b, x: b.ln1(x + b.attn(x)), "in order", "x = b.ln1(x + __)"),
    ],
    "top_k": [
        (lambda logits, k: logits.softmax(-1) * (logits >= torch.topk(logits, k, -1).values[..., -1:]), "sum to 1"),
        (lambda logits, k: logits.masked_fill(logits > torch.topk(logits, k, -1, largest=False).values[..., -1:],
                                              float("-inf")).softmax(-1), "LARGEST", "torch.topk(logits, k, dim=__)"),
        (lambda logits, k: logits.masked_fill(logits < torch.topk(logits.flatten(), k).values[-1],
                                              float("-inf")).softmax(-1), "sum to 1"),
        (lambda logits, k: logits.softmax(-1).topk(k).values, "shape of the logits"),
    ],
    "top_p": [
        (_top_p_without_the_crossing_token, "one token too few", "before = probs.cumsum(-1) - __"),
        (lambda logits, p: top_p_probs(logits, p) * 0.9, "sum to 1"),
        (lambda logits, p: logits.softmax(-1), "nucleus"),
    ],
    "context_length": [(8, "longer"), (128, "look for a shorter window"), (16, "longer"), (0, "whole number"),
                       (40.5, "whole number")],
}
