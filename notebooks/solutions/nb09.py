"""Solutions to notebook 09's exercises (pre-training and fine-tuning)."""

import math


def lora_forward(x, W, A, B, scale):
    return x @ W.T + scale * (x @ A.T) @ B.T


def merge(W, A, B, scale):
    return W + scale * B @ A


def mean_pool(h, mask):
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def perplexity(batch_losses, batch_tokens):
    total = sum(loss * n for loss, n in zip(batch_losses, batch_tokens))
    return math.exp(total / sum(batch_tokens))


# --- typical wrong answers -------------------------------------------------------------------------

def lora_frozen_only(x, W, A, B, scale):
    return x @ W.T


def lora_unscaled(x, W, A, B, scale):
    return x @ W.T + (x @ A.T) @ B.T


def merge_unscaled(W, A, B, scale):
    return W + B @ A


def merge_wrong_order(W, A, B, scale):
    return W + scale * (A.T @ B.T)


def mean_pool_with_padding(h, mask):
    return h.mean(1)


def mean_pool_divide_by_T(h, mask):
    return (h * mask[..., None]).mean(1)


def perplexity_mean_of_means(batch_losses, batch_tokens):
    return math.exp(sum(batch_losses) / len(batch_losses))


def perplexity_no_exp(batch_losses, batch_tokens):
    return sum(loss * n for loss, n in zip(batch_losses, batch_tokens)) / sum(batch_tokens)


SOLUTIONS = {"lora_forward": lora_forward, "merge": merge, "mean_pool": mean_pool, "perplexity": perplexity}
WRONG = {
    "lora_forward": [lora_frozen_only, lora_unscaled],
    "merge": [merge_unscaled, merge_wrong_order],
    "mean_pool": [mean_pool_with_padding, mean_pool_divide_by_T],
    "perplexity": [perplexity_mean_of_means, perplexity_no_exp],
}
