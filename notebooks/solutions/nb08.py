"""Solutions to notebook 08's exercises (training a language model on a GPU)."""

import math


def my_lr(step, lr_max, lr_min, warmup, decay_end):
    if step < warmup:
        return lr_max * (step + 1) / warmup
    if step >= decay_end:
        return lr_min
    progress = (step - warmup) / (decay_end - warmup)
    return lr_min + 0.5 * (1 + math.cos(math.pi * progress)) * (lr_max - lr_min)


def decay_names(model):
    return {name for name, p in model.named_parameters() if p.dim() >= 2}


def accumulate(model, x, y, k):
    from lmutils.train import lm_loss

    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        (lm_loss(model(xm), ym) / k).backward()


def my_mfu(model, tokens_per_s, peak_flops):
    c = model.config
    n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    return (6 * n + 12 * c.n_layer * c.block_size * c.n_embd) * tokens_per_s / peak_flops


# --- typical wrong answers -------------------------------------------------------------------------

def lr_no_floor(step, lr_max, lr_min, warmup, decay_end):
    return my_lr(step, lr_max, 0.0, warmup, decay_end) if step < decay_end else lr_min


def lr_no_warmup(step, lr_max, lr_min, warmup, decay_end):
    return my_lr(step, lr_max, lr_min, 0, decay_end)


def lr_linear(step, lr_max, lr_min, warmup, decay_end):
    if step < warmup:
        return lr_max * (step + 1) / warmup
    return max(lr_min, lr_max - (lr_max - lr_min) * (step - warmup) / (decay_end - warmup))


def accumulate_no_division(model, x, y, k):
    from lmutils.train import lm_loss

    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        lm_loss(model(xm), ym).backward()


def accumulate_zeroing(model, x, y, k):
    from lmutils.train import lm_loss

    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        model.zero_grad()
        (lm_loss(model(xm), ym) / k).backward()


def accumulate_full_batch(model, x, y, k):
    from lmutils.train import lm_loss

    lm_loss(model(x), y).backward()  # the right gradient, but k is ignored: no memory saved


def accumulate_full_batch_k_times(model, x, y, k):
    from lmutils.train import lm_loss

    for _ in range(k):
        (lm_loss(model(x), y) / k).backward()


def mfu_forward_only(model, tokens_per_s, peak_flops):
    n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    return 2 * n * tokens_per_s / peak_flops


def mfu_no_attention(model, tokens_per_s, peak_flops):
    n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    return 6 * n * tokens_per_s / peak_flops


def mfu_percent(model, tokens_per_s, peak_flops):
    return 100 * my_mfu(model, tokens_per_s, peak_flops)


SOLUTIONS = {
    "lr_schedule": my_lr,
    "decay_params": decay_names,
    "accumulate": accumulate,
    "model_flops_utilisation": my_mfu,
}

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "lr_schedule": [(lr_no_floor, "cosine part", "lr_min + ½(1 + cos(π · progress))"),
                    (lr_no_warmup, "warm-up part", "lr_max · (step + 1) / warmup"),
                    (lr_linear, "cosine part")],
    "decay_params": [(lambda m: {n for n, _ in m.named_parameters()}, "LayerNorm gains", "number of dimensions"),
                     (lambda m: {n for n, _ in m.named_parameters() if n.endswith("weight")}, "LayerNorm gains"),
                     (lambda m: {n for n, p in m.named_parameters() if p.dim() >= 2 and "emb" not in n},
                      "parameter(s) are missing", "embeddings included"),
                     (lambda m: {"not_a_parameter"}, "not names from model.named_parameters()")],
    "accumulate": [(accumulate_no_division, "what is each micro-batch's loss a mean over",
                    "divide it by the number of micro-batches"),
                   (accumulate_zeroing, "do they all stay there", "zip(x.chunk(k), y.chunk(k))"),
                   (accumulate_full_batch, "ran once, on the whole batch", "x.chunk(k)"),
                   (accumulate_full_batch_k_times, "ran 4 time(s), on [8, 8, 8, 8] rows")],
    "model_flops_utilisation": [(mfu_forward_only, "forward pass only"),
                                (mfu_no_attention, "N does not count them", "12 · n_layer · block_size"),
                                (mfu_percent, "percentage"),
                                (lambda model, speed, peak: speed / peak, "how many FLOPs", "MFU = (6N")],
}
