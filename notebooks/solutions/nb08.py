"""Solutions to notebook 08's exercises (training a language model on a GPU)."""

import math


def my_lr(step, lr_max, lr_min, warmup, decay_end):
    if step < warmup:
        return lr_max * (step + 1) / warmup
    if step >= decay_end:
        return lr_min
    progress = (step - warmup) / (decay_end - warmup)
    return lr_min + 0.5 * (1 + math.cos(math.pi * progress)) * (lr_max - lr_min)


def param_groups(model, weight_decay):
    params = list(model.parameters())          # each tensor once, a tied weight included
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def accumulate(model, x, y, k):
    from lmutils.train import lm_loss

    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        share = len(xm) / len(x)                 # the micro-batch's part of the batch: unequal when k ∤ B
        (lm_loss(model(xm), ym) * share).backward()


def my_mfu(model, batch_size, grad_accum, step_seconds, peak_flops):
    c = model.config
    n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    tokens_per_s = batch_size * grad_accum * c.block_size / step_seconds
    return (6 * n + 12 * c.n_layer * c.block_size * c.n_embd) * tokens_per_s / peak_flops


# found with the widget: from log₂ S = 16 nothing is subnormal any more, from 24 the largest gradients overflow
loss_scale = (16, 23)

SOLUTIONS = {
    "lr_schedule": my_lr,
    "param_groups": param_groups,
    "accumulate": accumulate,
    "model_flops_utilisation": my_mfu,
    "loss_scale": loss_scale,
}


# --- typical wrong answers -------------------------------------------------------------------------

def lr_no_floor(step, lr_max, lr_min, warmup, decay_end):
    return my_lr(step, lr_max, 0.0, warmup, decay_end) if step < decay_end else lr_min


def lr_no_warmup(step, lr_max, lr_min, warmup, decay_end):
    return my_lr(step, lr_max, lr_min, 0, decay_end)


def lr_linear(step, lr_max, lr_min, warmup, decay_end):
    if step < warmup:
        return lr_max * (step + 1) / warmup
    return max(lr_min, lr_max - (lr_max - lr_min) * (step - warmup) / (decay_end - warmup))


def groups_by_name(model, weight_decay):            # the names of a GPT: wrong for other models
    named = list(model.named_parameters())
    decay = [p for n, p in named if n.endswith("weight") and "ln" not in n]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": [p for n, p in named if not any(p is q for q in decay)], "weight_decay": 0.0}]


def groups_of_state_dict(model, weight_decay):      # state_dict() holds the tied weight twice, and copies
    tensors = list(model.state_dict(keep_vars=True).values())
    return [{"params": [t for t in tensors if t.dim() >= 2], "weight_decay": weight_decay},
            {"params": [t for t in tensors if t.dim() < 2], "weight_decay": 0.0}]


def accumulate_divide_by_k(model, x, y, k):        # the cell above, renamed: right only when k divides B
    from lmutils.train import lm_loss

    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        (lm_loss(model(xm), ym) / k).backward()


def accumulate_no_division(model, x, y, k):
    from lmutils.train import lm_loss

    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        lm_loss(model(xm), ym).backward()


def accumulate_full_batch(model, x, y, k):
    from lmutils.train import lm_loss

    lm_loss(model(x), y).backward()  # the right gradient, but k is ignored: no memory saved


def mfu_forward_only(model, batch_size, grad_accum, step_seconds, peak_flops):
    n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    return 2 * n * batch_size * grad_accum * model.config.block_size / step_seconds / peak_flops


def mfu_without_accum(model, batch_size, grad_accum, step_seconds, peak_flops):
    return my_mfu(model, batch_size, 1, step_seconds, peak_flops)


def mfu_percent(model, batch_size, grad_accum, step_seconds, peak_flops):
    return 100 * my_mfu(model, batch_size, grad_accum, step_seconds, peak_flops)


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "lr_schedule": [(lr_no_floor, "cosine part", "lr_min + 0.5 * (1 + math.cos(math.pi * __))"),
                    (lr_no_warmup, "warm-up part", "lr_max * (__ + 1) / __"),
                    (lr_linear, "cosine part")],
    "param_groups": [(groups_by_name, "you do not decay"), (groups_of_state_dict, "twice"),
                     (lambda m, wd: [{"params": list(m.parameters()), "weight_decay": wd}], "a vector",
                      "p.dim() __ 2"),
                     (lambda m, wd: [n for n, _ in m.named_parameters()], "list of dicts")],
    "accumulate": [(accumulate_divide_by_k, "weighs a micro-batch", "* __ / __"),
                   (accumulate_no_division, "times too big"),
                   (accumulate_full_batch, "ran once, on the whole batch")],
    "model_flops_utilisation": [(mfu_forward_only, "forward pass only"),
                                (mfu_without_accum, "grad_accum"), (mfu_percent, "percentage"),
                                (lambda model, B, k, s, peak: B / s / peak, "not it",
                                 "(6 * N + 12 * c.n_layer * __ * __)")],
    "loss_scale": [((0, 30), "too small"), ((16, 30), "overflow"), ((17, 23), "not the smallest"),
                   ((16, 20), "not the largest"), (65536, "two whole numbers")],
}
