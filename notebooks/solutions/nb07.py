"""Solutions to notebook 07's exercises (a Transformer language model)."""

import torch


def gpt_params(vocab_size, block_size, n_layer, n_embd):
    block = 12 * n_embd ** 2 + 2 * n_embd            # attention 4d², MLP 8d², two layer-norm gains
    return vocab_size * n_embd + block_size * n_embd + n_layer * block + n_embd


def block_forward(b, x):
    x = x + b.attn(b.ln1(x))
    return x + b.mlp(b.ln2(x))


def top_k_probs(logits, k):
    kth = torch.topk(logits, k).values[-1]
    return logits.masked_fill(logits < kth, float("-inf")).softmax(-1)


def top_p_probs(logits, p):
    probs, order = logits.softmax(-1).sort(descending=True)
    before = probs.cumsum(-1) - probs                  # mass of the more likely tokens
    probs[before >= p] = 0.0                           # already reached p without this token
    kept = torch.zeros_like(probs).scatter(-1, order, probs)
    return kept / kept.sum()


SOLUTIONS = {"gpt_params": gpt_params, "block_forward": block_forward, "top_k": top_k_probs, "top_p": top_p_probs}


def _post_norm(b, x):
    x = b.ln1(x + b.attn(x))
    return b.ln2(x + b.mlp(x))


def _top_p_without_the_crossing_token(logits, p):
    probs, order = logits.softmax(-1).sort(descending=True)
    probs[1:][probs.cumsum(-1)[1:] > p] = 0.0
    kept = torch.zeros_like(probs).scatter(-1, order, probs)
    return kept / kept.sum()


# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "gpt_params": [
        (lambda V, T, L, C: gpt_params(V, T, L, C) + V * C, "one matrix too many", "weight tying"),  # untied head
        (lambda V, T, L, C: gpt_params(V, T, L, C) - T * C, "position embeddings"),
        (lambda V, T, L, C: gpt_params(V, T, L, C) - (2 * L + 1) * C, "layer norms"),
        (lambda V, T, L, C: V * C + T * C + L * 4 * C * C, "List the model's parts", "the head is tied"),
    ],
    "block_forward": [
        (_post_norm, "post-norm", "never normalised"),
        (lambda b, x: b.mlp(b.ln2(b.attn(b.ln1(x)))), "residual connections"),                 # no residuals
        (lambda b, x: (lambda h: h + b.mlp(b.ln1(h)))(x + b.attn(b.ln1(x))), "b.ln2"),     # ln1 twice
        (lambda b, x: x + b.attn(b.ln1(x)), "in order", "x = x + b.attn(b.ln1(x))"),         # no MLP
    ],
    "top_k": [
        (lambda logits, k: logits.softmax(-1) * (logits >= torch.topk(logits, k).values[-1]), "sum to 1",
         "-inf"),                                                                            # not renormalised
        (lambda logits, k: logits.masked_fill(logits > torch.topk(logits, k, largest=False).values[-1],
                                              float("-inf")).softmax(-1), "LARGEST", "torch.topk"),  # k smallest
        (lambda logits, k: logits.masked_fill(logits <= torch.topk(logits, k).values[-1], float("-inf")).softmax(-1),
         "keep exactly the 3 largest"),
    ],
    "top_p": [
        (_top_p_without_the_crossing_token, "one token too few", "cumsum − itself"),
        (lambda logits, p: top_p_probs(logits, p) * 0.9, "sum to 1"),                          # not normalised
    ],
}
