"""Checkers for notebook 08 (training a language model on a GPU)."""

import math

import torch

from . import attempt, call, checker, close, correct, forbid, hint, placeholder, seeded, unanswered
from ...models import GPT, GPTConfig
from ...train import TrainConfig, lm_loss, lr_at


@checker
def lr_schedule(fn):
    """my_lr(step, lr_max, lr_min, warmup, decay_end): linear warm-up, then cosine down to lr_min."""
    cases = [(100, 1e-3, 1e-4, 5000), (10, 1.0, 0.1, 100), (0, 6e-4, 6e-5, 50)]
    for warmup, lr_max, lr_min, decay_end in cases:
        cfg = TrainConfig(learning_rate=lr_max, min_lr=lr_min, warmup_iters=warmup, lr_decay_iters=decay_end,
                          max_iters=decay_end)
        steps = sorted({0, max(warmup - 1, 0), warmup, (warmup + decay_end) // 2, decay_end - 1, decay_end,
                        decay_end + 10})
        for step in steps:
            want = lr_at(step, cfg)
            with forbid(fn, "lmutils.train.lr_at"):
                got, err = attempt(fn, step, lr_max, lr_min, warmup, decay_end)
            if err is not None:
                return err
            if close(got, want, 1e-6):
                continue
            where = (f"step {step} of {warmup} warm-up steps" if step < warmup else
                     f"step {step}, after the decay ended at {decay_end}" if step >= decay_end else
                     f"step {step}, between the warm-up ({warmup}) and the end of the decay ({decay_end})")
            if step < warmup:
                return hint(f"at {where} you gave {got}: look at the warm-up part of the equation again.",
                            f"at {where} you gave {got}: during the warm-up the rate rises in a straight line, "
                            "from lr_max / warmup at step 0 to lr_max at step warmup - 1.",
                            "during the warm-up: lr_max · (step + 1) / warmup.")
            if step >= decay_end:
                return hint(f"at {where} the rate should stay at lr_min ({lr_min}); you gave {got}.")
            return hint(f"at {where} you gave {got}: look at the cosine part of the equation again: where does "
                        "it start, where does it end?",
                        f"at {where} you gave {got}: use the cosine of π × progress, with progress going from 0 at "
                        "the end of the warm-up to 1 at decay_end, and move between lr_max and lr_min (not 0).",
                        "progress = (step − warmup) / (decay_end − warmup); "
                        "lr = lr_min + ½(1 + cos(π · progress)) · (lr_max − lr_min).")
    return correct("the same schedule as lmutils.train.lr_at.")


def _gpt():
    with seeded(8):
        return GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16))


@checker
def decay_params(fn):
    """decay_names(model) -> the names of the parameters that get weight decay."""
    model = _gpt()
    with forbid(fn, "lmutils.train.make_optimizer"):
        got, err = attempt(fn, model)
    if err is not None:
        return err
    try:
        got = set(got)
    except TypeError:
        return hint(f"return a set (or list) of parameter names, got {type(got).__name__}.")
    names = dict(model.named_parameters())
    unknown = got - set(names)
    if unknown:
        return hint(f"{sorted(unknown)[:3]} are not names from model.named_parameters().")
    want = {n for n, p in names.items() if p.dim() >= 2}
    if got == want:
        return correct("matrices and embeddings are decayed; biases and LayerNorm gains are not.")
    if any("ln" in n for n in got - want):
        return hint("LayerNorm gains are called 'weight' too, yet they are vectors: decaying them towards 0 "
                    "would shrink every normalised activation.",
                    "LayerNorm gains are called 'weight' too, yet they are vectors: decide by the parameter's "
                    "number of dimensions, not by its name.")
    if got > want:
        return hint("some vectors (biases or gains) are in your set: only matrices and embeddings are decayed.",
                    "some vectors (biases or gains) are in your set: keep the parameters with p.dim() >= 2.")
    return hint(f"{len(want - got)} matrix or embedding parameter(s) are missing, e.g. {sorted(want - got)[0]}.",
                f"{len(want - got)} matrix or embedding parameter(s) are missing, e.g. {sorted(want - got)[0]}: "
                "every parameter with 2 or more dimensions is decayed, embeddings included.")


@checker
def accumulate(fn):
    """accumulate(model, x, y, k): backward over k micro-batches of B/k rows so that .grad is the gradient of
    the mean loss over the whole batch (x, y)."""
    if unanswered(fn):
        return placeholder()
    model = _gpt()
    g = torch.Generator().manual_seed(0)
    B = 8
    x, y = torch.randint(0, 20, (B, 16), generator=g), torch.randint(0, 20, (B, 16), generator=g)
    lm_loss(model(x), y).backward()
    want = [p.grad.clone() for p in model.parameters()]
    for k in (4, 2):
        model.zero_grad(set_to_none=True)
        rows = []  # the batch size of every forward call
        hook = model.register_forward_pre_hook(lambda module, args, rows=rows: rows.append(len(args[0])) if args
                                               else None)
        try:
            got, err = call(fn, model, x.clone(), y.clone(), k)
        finally:
            hook.remove()
        if err is not None:
            return err
        if got is Ellipsis:  # the function returns nothing: what counts is what it leaves in .grad
            return placeholder()
        grads = [p.grad for p in model.parameters()]
        if not rows and all(gr is None for gr in grads):
            return placeholder("after your function the parameters have no .grad: call backward() on each "
                               "micro-batch's loss.")
        if rows != [B // k] * k:
            if rows == [B]:
                return hint(f"with k={k} the model ran once, on the whole batch of {B}: accumulation is about "
                            "memory, so the model must never see more than one micro-batch at a time.",
                            f"with k={k} the model ran once, on the whole batch of {B}: run it k times, on B/k "
                            "rows each (x.chunk(k)).")
            return hint(f"with k={k} and a batch of {B} the model ran {len(rows)} time(s), on {rows} rows: it "
                        f"should run k = {k} times, on B/k = {B // k} rows each.",
                        f"with k={k} the model should run on x.chunk(k): {k} micro-batches of {B // k} rows, "
                        "each exactly once.")
        if any(gr is None for gr in grads):
            return hint("after your function some parameters have no .grad: call backward() on each "
                        "micro-batch's loss.")
        if all(close(a, b, 1e-4) for a, b in zip(grads, want)):
            continue
        if all(close(a, k * b, 1e-4) for a, b in zip(grads, want)):
            return hint(f"your gradients are {k} times too big: what is each micro-batch's loss a mean over?",
                        f"your gradients are {k} times too big: each micro-batch loss is a mean over its own "
                        "tokens, so divide it by the number of micro-batches before backward().")
        return hint(f"with k={k} the gradients differ from the big batch's: where do the micro-batches' "
                    "gradients go, and do they all stay there?",
                    f"with k={k} the gradients differ from the big batch's. Let the gradients of all parts add up "
                    "in .grad (do not zero them in between).",
                    "for xm, ym in zip(x.chunk(k), y.chunk(k)): (lm_loss(model(xm), ym) / k).backward().")
    return correct("k micro-batches of B/k rows give the big batch's gradient.")


@checker
def model_flops_utilisation(fn):
    """my_mfu(model, tokens_per_s, peak_flops): the fraction of the peak the training uses."""
    cases = [(dict(n_layer=6, n_head=6, n_embd=384, block_size=256), 500_000, 312e12),
             (dict(n_layer=4, n_head=4, n_embd=128, block_size=64), 20_000, 65e12),
             (dict(n_layer=2, n_head=2, n_embd=64, block_size=512), 1e6, 989e12)]
    for kw, speed, peak in cases:
        with seeded(0):
            model = GPT(GPTConfig(vocab_size=65, **kw))
        want = model.flops_per_token() * speed / peak
        with forbid(fn, "lmutils.models.GPT.flops_per_token", "lmutils.train.mfu"):
            got, err = attempt(fn, model, speed, peak)
        if err is not None:
            return err
        try:
            got = float(got)
        except (TypeError, ValueError):
            return hint(f"return one number (a fraction such as 0.35), got {type(got).__name__}.")
        n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
        if math.isclose(got, want, rel_tol=1e-3):
            continue
        if math.isclose(got, 100 * want, rel_tol=1e-3):
            return hint("that is a percentage: return the fraction (between 0 and 1).")
        if math.isclose(got, 2 * n * speed / peak, rel_tol=2e-2):
            return hint("2N counts the forward pass only: the backward pass costs about twice as much again.")
        if math.isclose(got, 6 * n * speed / peak, rel_tol=1e-3):
            return hint("close: some FLOPs do not come from the weights, so N does not count them. Which?",
                        "close: add the attention's FLOPs, 12 · n_layer · block_size · n_embd per token.")
        return hint(f"for a {kw['n_layer']}-layer model at {speed:,.0f} tokens/s on a {peak / 1e12:.0f} TFLOP/s "
                    "GPU that is not it: how many FLOPs does training cost per token, and per second?",
                    f"for a {kw['n_layer']}-layer model at {speed:,.0f} tokens/s on a {peak / 1e12:.0f} TFLOP/s "
                    "GPU that is not it: FLOPs per token times tokens per second, over the peak.",
                    "MFU = (6N + 12·n_layer·block_size·n_embd) · tokens_per_s / peak_flops, with N the parameters "
                    "without the position embeddings.")
    return correct("FLOPs per token × tokens/s ÷ peak FLOP/s.")
