"""Solutions to notebook 09's exercises (pre-training and fine-tuning)."""


def lora_forward(x, W, b, A, B, alpha):
    r = A.shape[0]                                   # A is (r, in): the rank is its number of rows
    return x @ W.T + b + alpha / r * (x @ A.T) @ B.T


def lora_params(n_layer, n_embd, rank, n_classes):
    C, r = n_embd, rank
    qkv = r * (C + 3 * C)                            # A (r, C) and B (3C, r)
    proj = r * (C + C)
    return n_layer * (qkv + proj) + C * n_classes + n_classes   # the body is frozen; the head trains


def mean_pool(h, mask):
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


# found by trying learning rates 3e-4 (full fine-tuning's: too small for adapters that start at B = 0), 3e-3, 1e-2
lora_finetune = dict(rank=8, learning_rate=5e-3)

SOLUTIONS = {"lora_forward": lora_forward, "lora_params": lora_params, "mean_pool": mean_pool,
             "lora_finetune": lora_finetune}


# --- typical wrong answers -------------------------------------------------------------------------

def lora_frozen_only(x, W, b, A, B, alpha):
    return x @ W.T + b


def lora_scale_alpha(x, W, b, A, B, alpha):
    return x @ W.T + b + alpha * (x @ A.T) @ B.T


def lora_unscaled(x, W, b, A, B, alpha):
    return x @ W.T + b + (x @ A.T) @ B.T


def lora_rank_from_columns(x, W, b, A, B, alpha):
    return x @ W.T + b + alpha / A.shape[1] * (x @ A.T) @ B.T


def lora_no_bias(x, W, b, A, B, alpha):
    return x @ W.T + alpha / A.shape[0] * (x @ A.T) @ B.T


def mean_pool_with_padding(h, mask):
    return h.mean(1)


def mean_pool_divide_by_T(h, mask):
    return (h * mask[..., None]).mean(1)


def mean_pool_first_n(h, mask):                      # right only when the padding is at the end
    import torch
    return torch.stack([h[i, :int(n)].mean(0) for i, n in enumerate(mask.sum(1))])


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "lora_forward": [(lora_frozen_only, "frozen layer's alone"), (lora_scale_alpha, "alpha / r"),
                     (lora_unscaled, "not scaled"), (lora_rank_from_columns, "number of rows"),
                     (lora_no_bias, "bias b is missing"),
                     (lambda x, W, b, A, B, alpha: x @ W.T + b + 0.5 * (x @ A.T) @ B.T, "not yet",
                      "alpha / __ * (x @ __) @ __")],
    "lora_params": [(lambda L, C, r, k: L * 6 * r * C, "classification head"),
                    (lambda L, C, r, k: L * 6 * r * C + C * k, "with a bias"),
                    (lambda L, C, r, k: L * 4 * r * C + C * k + k, "two adapted layers"),
                    (lambda L, C, r, k: L * 12 * C * C + L * 6 * r * C + C * k + k, "LoRA freezes the body"),
                    (lambda L, C, r, k: L * r * C, "not right", "n_layer · (r·(C + __·C)")],
    "mean_pool": [(mean_pool_with_padding, "padding included"),
                  (mean_pool_divide_by_T, "divide by T", "mask.sum(__, keepdim=__)"),
                  (mean_pool_first_n, "padded at the start"),
                  (lambda h, mask: h.sum(1), "not yet the mean")],
    "lora_finetune": [(dict(rank=4, learning_rate=3e-4), "only"), (dict(rank=4), "two keys"),
                      (dict(rank=0.5, learning_rate=1e-2), "whole number")],
}
