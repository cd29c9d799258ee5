"""Checkers for notebook 08 (training a language model on a GPU)."""

import functools
import math

import torch

from ...data import encode_corpus, get_batch
from ...mlp import MLPLM
from ...models import GPT, GPTConfig, LSTMConfig, LSTMLM, RNNConfig, RNNLM
from ...train import TrainConfig, lm_loss, lr_at
from ..i18n import _
from . import attempt, call, checker, close, correct, forbid, hint, integer, number, placeholder, rng, seeded, \
    unanswered, uniform
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

SCHEDULERS = ("lmutils.train.lr_at", "torch.optim.lr_scheduler.LRScheduler.__init__")


@checker
def lr_schedule(fn):
    """my_lr(step, lr_max, lr_min, warmup, decay_end): linear warm-up, then cosine down to lr_min at decay_end,
    then constant."""
    cases = [(integer(1, 200), 10 ** uniform(-4, 0)) for _i in range(2)] + [(0, 10 ** uniform(-4, 0))]
    for warmup, lr_max in cases:
        lr_min, decay_end = lr_max * uniform(0, 0.3), warmup + integer(10, 5000)
        cfg = TrainConfig(learning_rate=lr_max, min_lr=lr_min, warmup_iters=warmup, lr_decay_iters=decay_end,
                          max_iters=decay_end)
        steps = {0, max(warmup - 1, 0), warmup, decay_end - 1, decay_end, decay_end + integer(1, 100)}
        steps |= {integer(0, max(warmup - 1, 0)), integer(warmup, decay_end - 1), integer(warmup, decay_end - 1)}
        for step in sorted(steps):
            want = lr_at(step, cfg)
            with forbid(fn, *SCHEDULERS):
                got, err = attempt(fn, step, lr_max, lr_min, warmup, decay_end)
            if err is not None:
                return err
            if number(got) is not None and math.isclose(number(got), want, rel_tol=1e-6, abs_tol=1e-12):
                continue
            if number(got) is None:
                return hint(_("my_lr should return one number, the learning rate, got {kind}.",
                              kind=type(got).__name__))
            value = number(got)
            if step < warmup:
                where = _("at step {step} of {w} warm-up steps", step=step, w=warmup)
                return hint(_("{where} you gave {got:.4g}: look at the warm-up part of the equation again.",
                              where=where, got=value),
                            _("{where} you gave {got:.4g}, the schedule {want:.4g}: during the warm-up the rate rises "
                              "in a straight line, from lr_max / warmup at step 0 to lr_max at step warmup − 1.",
                              where=where, got=value, want=want),
                            _("during the warm-up: lr_max * (__ + 1) / __"))
            if step >= decay_end:
                return hint(_("at step {step}, after the decay ended at {end}, the rate stays at lr_min ({m:.4g}); you "
                              "gave {got:.4g}.", step=step, end=decay_end, m=lr_min, got=value))
            where = _("at step {step}, between the warm-up ({w}) and the end of the decay ({end})", step=step,
                      w=warmup, end=decay_end)
            return hint(_("{where} you gave {got:.4g}: look at the cosine part of the equation again: where does it "
                          "start, where does it end?", where=where, got=value),
                        _("{where} you gave {got:.4g}, the schedule {want:.4g}: use the cosine of π × progress, with "
                          "progress going from 0 at the end of the warm-up to 1 at decay_end, and move between lr_max "
                          "and lr_min (not 0).", where=where, got=value, want=want),
                        _("lr_min + 0.5 * (1 + math.cos(math.pi * __)) * (__ - __)"))
    return correct(_("the same schedule as lmutils.train.lr_at."))


def _models():
    """A few kinds of model, with matrices, vectors, embeddings, a tied head, and biases under many names."""
    C = 8 * integer(1, 4)
    with seeded(integer(0, 1000)):
        return [GPT(GPTConfig(vocab_size=integer(10, 40), block_size=16, n_layer=integer(1, 2), n_head=2, n_embd=C,
                              bias=True)),
                RNNLM(RNNConfig(integer(10, 40), n_embd=integer(4, 16), n_hidden=integer(4, 16))),
                LSTMLM(LSTMConfig(integer(10, 40), n_embd=integer(4, 16), n_hidden=integer(4, 16))),
                MLPLM(integer(10, 40), context=3, n_embd=integer(4, 8), n_hidden=integer(8, 32))]


@checker
def param_groups(fn):
    """param_groups(model, weight_decay) = the two parameter groups of torch.optim.AdamW: every matrix and embedding
    (a parameter of 2 or more dimensions) with weight_decay, every vector (biases, norm gains) with 0, each
    parameter exactly once."""
    for model in _models():
        wd = uniform(0.01, 0.3)
        with forbid(fn, "lmutils.train.make_optimizer"):
            got, err = attempt(fn, model, wd)
        if err is not None:
            return err
        kind = type(model).__name__
        if not isinstance(got, (list, tuple)) or not all(isinstance(g, dict) and "params" in g for g in got):
            return hint(_("return a list of dicts, each with \"params\" (a list of parameters) and \"weight_decay\", "
                          "as torch.optim.AdamW takes them."))
        names = {id(p): n for n, p in model.named_parameters()}
        seen = [p for g in got for p in g["params"]]
        if not all(isinstance(p, torch.nn.Parameter) for p in seen):
            return hint(_("the groups must hold the parameters themselves (from model.parameters() or "
                          "model.named_parameters()), not names or copies."))
        if len({id(p) for p in seen}) != len(seen):
            twice = next(names.get(id(p), "?") for p in seen if sum(q is p for q in seen) > 1)
            return hint(_("a parameter is in your groups twice ({name}, in the {kind}): a tied weight appears once in "
                          "model.named_parameters(), but twice in state_dict().", name=twice, kind=kind))
        if {id(p) for p in seen} != set(names):
            missing = sorted(n for i, n in names.items() if i not in {id(p) for p in seen})
            return hint(_("for the {kind} your groups leave out {n} parameter(s), e.g. {name}: every parameter goes "
                          "into one of the two groups.", kind=kind, n=len(missing), name=missing[0]))
        decayed = {id(p) for g in got if number(g.get("weight_decay", None)) is not None
                   and math.isclose(number(g["weight_decay"]), wd) for p in g["params"]}
        free = {id(p) for g in got if number(g.get("weight_decay", 1.0)) == 0 for p in g["params"]}
        if decayed | free != set(names):
            return hint(_("one group's weight_decay should be the weight_decay given ({wd:.3g}), the other's 0.",
                          wd=wd))
        want = {id(p) for p in model.parameters() if p.dim() >= 2}
        if decayed == want:
            torch.optim.AdamW(got, lr=1e-3)           # AdamW takes them as they are
            continue
        wrong_in = sorted(names[i] for i in decayed - want)
        wrong_out = sorted(names[i] for i in want - decayed)
        if wrong_in:
            return hint(_("for the {kind} you decay {name}, a vector: decaying a gain or a bias towards 0 is not a "
                          "regulariser, it shrinks what the layer outputs.", kind=kind, name=wrong_in[0]),
                        _("decide by the parameter's number of dimensions, not by its name: names differ from one "
                          "model to the next (try an RNNLM: rnn.bias_ih_l0)."),
                        _("{{\"params\": [p for p in model.parameters() if p.dim() __ 2], \"weight_decay\": "
                          "weight_decay}}"))
        return hint(_("for the {kind} you do not decay {name}, a matrix or an embedding: every parameter with 2 or "
                      "more dimensions is decayed.", kind=kind, name=wrong_out[0]),
                    _("decide by the parameter's number of dimensions, not by its name."))
    return correct(_("matrices and embeddings are decayed, vectors are not, whatever the model calls them."))


def _tiny_gpt():
    with seeded(integer(0, 1000)):
        return GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16))


@checker
def accumulate(fn):
    """accumulate(model, x, y, k): backward over at most k micro-batches, none larger than ⌈B/k⌉ rows, so that .grad
    is the gradient of lm_loss(model(x), y) over the whole batch, also when k does not divide B."""
    if unanswered(fn):
        return placeholder()
    model = _tiny_gpt()
    for B, k in [(integer(5, 13), integer(2, 4)) for _i in range(2)] + [(8, 4)]:
        if B % k == 0 and (B, k) != (8, 4):
            B += 1                                       # unequal micro-batches
        x, y = torch.randint(0, 20, (B, 16), generator=rng()), torch.randint(0, 20, (B, 16), generator=rng())
        model.zero_grad(set_to_none=True)
        lm_loss(model(x), y).backward()
        want = [p.grad.clone() for p in model.parameters()]
        model.zero_grad(set_to_none=True)
        rows = []  # the batch size of every forward call
        hook = model.register_forward_pre_hook(lambda module, args, rows=rows: rows.append(len(args[0])) if args
                                               else None)
        try:
            with forbid(fn, "lmutils.train.train_step", "lmutils.train.fit"):
                got, err = call(fn, model, x.clone(), y.clone(), k)
        finally:
            hook.remove()
        if err is not None:
            return err
        if got is Ellipsis:
            return placeholder()
        grads = [p.grad for p in model.parameters()]
        if not rows and all(gr is None for gr in grads):
            return placeholder(_("after your function the parameters have no .grad: call backward() on each "
                                 "micro-batch's loss."))
        limit = -(-B // k)
        if sum(rows) != B or len(rows) > k or max(rows) > limit:
            if rows == [B]:
                return hint(_("with k = {k} the model ran once, on the whole batch of {B}: accumulation is about "
                              "memory, so the model must never see more than one micro-batch at a time.", k=k, B=B),
                            _("with k = {k} the model ran once, on the whole batch of {B}: run it on at most k pieces "
                              "of the batch, each row in exactly one.", k=k, B=B))
            return hint(_("with k = {k} and a batch of {B} the model ran {n} time(s), on {rows} rows: it should run "
                          "at most k times, on at most {limit} rows each, every row once.", k=k, B=B, n=len(rows),
                          rows=rows, limit=limit))
        if any(gr is None for gr in grads):
            return hint(_("after your function some parameters have no .grad: call backward() on each micro-batch's "
                          "loss."))
        if all(close(a, b, 1e-4) for a, b in zip(grads, want)):
            continue
        if all(close(a, len(rows) * b, 1e-4) for a, b in zip(grads, want)):
            return hint(_("your gradients are {n} times too big: what is each micro-batch's loss a mean over?",
                          n=len(rows)),
                        _("your gradients are {n} times too big: each micro-batch's loss is a mean over its own "
                          "tokens: scale it down before backward().", n=len(rows)))
        if len(set(rows)) > 1:
            return hint(_("your micro-batches have {rows} rows: dividing each loss by the number of micro-batches "
                          "weighs a micro-batch of {small} rows as much as one of {big}.", rows=rows, small=min(rows),
                          big=max(rows)),
                        _("lm_loss is a mean over a micro-batch's tokens; the whole batch's loss is the mean over all "
                          "of them: weigh each micro-batch's loss by its share of the rows."),
                        _("(lm_loss(model(xm), ym) * __ / __).backward()"))
        return hint(_("with k = {k} the gradients differ from the whole batch's: where do the micro-batches' "
                      "gradients go, and do they all stay there?", k=k),
                    _("let the gradients of all pieces add up in .grad (do not zero them in between), each piece's "
                      "loss scaled by its share of the batch."))
    return correct(_("micro-batches weighted by their rows give the whole batch's gradient, even when they are "
                     "unequal."))


FLOP_REFERENCES = ("lmutils.models.GPT.flops_per_token", "lmutils.speed.flops_per_token", "lmutils.speed.mfu",
                   "lmutils.models.num_params")


@checker
def model_flops_utilisation(fn):
    """my_mfu(model, batch_size, grad_accum, step_seconds, peak_flops): the fraction of the peak used by training
    steps of batch_size × grad_accum windows of model.config.block_size tokens, each step taking step_seconds."""
    for _case in range(3):
        C = 16 * integer(1, 8)
        with seeded(0):
            model = GPT(GPTConfig(vocab_size=integer(50, 200), block_size=32 * integer(1, 8), n_layer=integer(1, 4),
                                  n_head=2, n_embd=C))
        B, accum, seconds, peak = integer(4, 64), integer(1, 4), uniform(0.05, 2), 1e12 * integer(50, 1000)
        tokens_per_s = B * accum * model.config.block_size / seconds
        want = model.flops_per_token() * tokens_per_s / peak
        with forbid(fn, *FLOP_REFERENCES):
            got, err = attempt(fn, model, B, accum, seconds, peak)
        if err is not None:
            return err
        value = number(got)
        if value is None:
            return hint(_("return one number (a fraction such as 0.35), got {kind}.", kind=type(got).__name__))
        if math.isclose(value, want, rel_tol=1e-4):
            continue
        n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
        c = model.config
        attn = 12 * c.n_layer * c.block_size * c.n_embd
        if math.isclose(value, 100 * want, rel_tol=1e-4):
            return hint(_("that is a percentage: return the fraction (between 0 and 1)."))
        if math.isclose(value, want / accum, rel_tol=1e-4):
            return hint(_("a step of grad_accum = {k} micro-batches processes k times batch_size windows: count them "
                          "all.", k=accum))
        if math.isclose(value, want / c.block_size, rel_tol=1e-4):
            return hint(_("you count windows per second; FLOPs are per token, and each window holds block_size "
                          "({T}) tokens.", T=c.block_size))
        if math.isclose(value, (2 * n + attn / 3) * tokens_per_s / peak, rel_tol=2e-2) or \
                math.isclose(value, 2 * n * tokens_per_s / peak, rel_tol=2e-2):
            return hint(_("2N counts the forward pass only: the backward pass costs about twice as much again."))
        if math.isclose(value, 6 * n * tokens_per_s / peak, rel_tol=1e-4):
            return hint(_("close: some FLOPs do not come from the weights, so N does not count them. Which?"),
                        _("close: add the attention's FLOPs, 12 · n_layer · block_size · n_embd per token."))
        if math.isclose(value, (6 * (n + model.pos_emb.weight.numel()) + attn) * tokens_per_s / peak, rel_tol=1e-4):
            return hint(_("close: the position embeddings are a table look-up, not a matrix product: leave them out "
                          "of N."))
        return hint(_("for a {L}-layer model, {B} × {k} windows of {T} tokens every {s:.3g} s on a {p:.0f} TFLOP/s "
                      "GPU that is not it: how many tokens per second, how many FLOPs per token?", L=c.n_layer, B=B,
                      k=accum, T=c.block_size, s=seconds, p=peak / 1e12),
                    _("tokens per second = batch_size · grad_accum · block_size / step_seconds; FLOPs per token as in "
                      "the equation above; MFU = their product over the peak."),
                    _("(6 * N + 12 * c.n_layer * __ * __) * tokens_per_s / peak_flops, N without the position "
                      "embeddings"))
    return correct(_("FLOPs per token × tokens per second ÷ peak FLOP/s."))


@functools.lru_cache(maxsize=1)
def activation_grads() -> torch.Tensor:
    """|gradients| of the activations between the blocks of the notebook's small GPT (4 layers, 128 wide), on
    one batch of 12 windows of 64 characters: what autocast keeps in 16 bits during backward()."""
    _tok, train_ids, _val = encode_corpus("shakespeare")
    with seeded(0):
        small = GPT(GPTConfig(65, block_size=64, n_layer=4, n_head=4, n_embd=128))
    xb, yb = get_batch(train_ids, 64, 12, generator=torch.Generator().manual_seed(0))
    acts = []
    hooks = [b.register_forward_hook(lambda mod, inp, out: out.retain_grad() or acts.append(out)) for b in small.blocks]
    lm_loss(small(xb), yb).backward()
    for h in hooks:
        h.remove()
    g = torch.cat([a.grad.flatten() for a in acts]).abs()
    return g[g > 0]


def fp16_shares(scale: float) -> tuple[float, float]:
    """(share of the scaled gradients that fp16 flushes to 0 or keeps only as subnormals, share that overflows)."""
    half = (activation_grads().double() * scale).half()
    lost = (half.abs() < torch.finfo(torch.float16).tiny).double().mean().item()
    return lost, half.isinf().double().mean().item()


def _safe(exponent: int) -> bool:
    lost, over = fp16_shares(2.0 ** exponent)
    return lost == 0 and over == 0


@checker
def loss_scale(window):
    """Experiment: window = (low, high), the smallest and the largest power of two, log₂ S, at which no activation
    gradient of the notebook's small GPT becomes zero or subnormal in fp16 and none overflows."""
    if unanswered(window):
        return placeholder()
    try:
        low, high = (int(v) for v in window)
    except (TypeError, ValueError):
        return hint(_("give two whole numbers, (low, high): the smallest and the largest log₂ S that keep every "
                      "gradient a normal fp16 number."))
    if not -10 <= low <= high <= 60:
        return hint(_("low and high are exponents of 2 with low ≤ high (the widget's slider goes from 0 to 30)."))
    for e in (low, high):
        if not _safe(e):
            lost, over = fp16_shares(2.0 ** e)
            if over > 0:
                return hint(_("at log₂ S = {e}, {over:.3%} of the gradients overflow to inf: too large.", e=e,
                              over=over))
            return hint(_("at log₂ S = {e}, {lost:.4%} of the gradients are lost (zero or subnormal in fp16): too "
                          "small.", e=e, lost=lost),
                        _("move log₂ S in the widget above and read its caption: what share becomes 0, what share "
                          "is subnormal, what share overflows?"))
    if _safe(low - 1):
        return hint(_("log₂ S = {e} keeps every gradient too: your low is not the smallest.", e=low - 1))
    if _safe(high + 1):
        return hint(_("log₂ S = {e} keeps every gradient too: your high is not the largest.", e=high + 1))
    return correct(_("from 2^{low} to 2^{high}: GradScaler's start, 2^16 = 65,536, sits at the low end; when a step "
                     "overflows it halves S, and it grows S again after a run of steps without one.", low=low,
                     high=high))
