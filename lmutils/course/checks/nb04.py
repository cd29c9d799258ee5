"""Checkers for notebook 04 (recurrent networks)."""

import functools
import math

import torch

from ...data import encode_corpus
from ...models import RNNConfig, RNNLM, num_params
from ...progress import Reporter
from ...train import TrainConfig, evaluate, fit
from ..i18n import _
from . import (BUILD, attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, seeded,
               unanswered, uniform)
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

RNN_OPS = ("rnn_tanh", "rnn_relu")  # nn.RNN, nn.RNNCell, torch.rnn_tanh_cell, torch._VF.rnn_tanh, …


def _shape_hint(err, *pointers):
    """A shape error of the student's code, with what to do about it; None for other errors."""
    if "shape" in err.message or "size" in err.message:
        return hint(*(_("{error} {pointer}", error=err.message, pointer=p) for p in pointers or [""]))
    return None


@checker
def rnn_step(fn):
    """my_rnn_step(x_t, h_prev, W, b_h) = tanh([h_prev, x_t] Wᵀ + b_h), with one matrix W = [W_hh | W_xh]
    (n_hidden, n_hidden + n_in) acting on the concatenation [h_{t-1}, x_t]."""
    for B, n_in, n_hidden in [(integer(1, 4), integer(2, 6), integer(3, 7)) for _i in range(3)]:
        if n_in == n_hidden:
            n_in += 1                       # different sizes: a swapped concatenation cannot go unnoticed
        x_t, h_prev = torch.randn(B, n_in, generator=rng()), torch.randn(B, n_hidden, generator=rng())
        W_hh, W_xh = torch.randn(n_hidden, n_hidden, generator=rng()), torch.randn(n_hidden, n_in, generator=rng())
        b_h, W = torch.randn(n_hidden, generator=rng()), torch.cat([W_hh, W_xh], dim=1)
        with forbid(fn, "lmutils.recurrent.rnn_forward", "lmutils.recurrent.rnn_stack_forward", ops=RNN_OPS,
                    notebook=("rnn_step", "rnn")):
            got, err = attempt(fn, x_t.clone(), h_prev.clone(), W.clone(), b_h.clone())
        if err is not None and _shape_hint(err) is not None:
            return _shape_hint(err, _("Write down the shapes: [h_prev, x_t] is (B, n_hidden + n_in) = ({B}, {k}), "
                                      "W is (n_hidden, n_hidden + n_in) = {W}.", B=B, k=n_hidden + n_in,
                                      W=tuple(W.shape)),
                               _("Concatenate along the features (dim=1): ({B}, {k}), then multiply by W "
                                 "transposed.", B=B, k=n_hidden + n_in),
                               _("torch.tanh(torch.cat([__, __], dim=1) @ __ + b_h)"))
        if err is not None:
            return err
        if not torch.is_tensor(got) or tuple(got.shape) != (B, n_hidden):
            return hint(_("my_rnn_step should return the new state, shape (B, n_hidden) = {want} here; got {got}.",
                          want=(B, n_hidden), got=tuple(got.shape) if torch.is_tensor(got) else type(got).__name__))
        a = h_prev @ W_hh.T + x_t @ W_xh.T + b_h
        if close(got, torch.tanh(a)):
            continue
        if close(got, a):
            return hint(_("the pre-activation is right; the new state goes through a nonlinearity (which one does "
                          "nn.RNN use?)."))
        if close(got, torch.sigmoid(a)):
            return hint(_("nn.RNN's nonlinearity maps to (-1, 1), not (0, 1)."))
        if close(got, torch.tanh(a - b_h)):
            return hint(_("the bias b_h is missing."))
        return hint(_("write h_t = tanh(W [h_{{t-1}}; x_t] + b_h) for a batch of row vectors: what is the shape of "
                      "each piece?"),
                    _("W = [W_hh | W_xh]: its first n_hidden columns multiply h_{{t-1}}, the others x_t; so "
                      "concatenate h_prev and x_t in that order, along the features."),
                    _("torch.tanh(torch.cat([__, __], dim=1) @ __ + b_h)"))
    return correct(_("one matrix on the concatenation [h, x] is the two matrices W_hh and W_xh side by side."))


@checker
def rnn_lm_params(fn):
    """rnn_lm_params(vocab_size, n_embd, n_hidden, n_layer) = number of parameters of RNNLM(RNNConfig(...))."""
    cases = [(integer(10, 100), integer(4, 32), integer(4, 64), 1), (integer(10, 100), integer(4, 32),
                                                                   integer(4, 64), integer(2, 3))]
    cases.append((integer(10, 100), integer(4, 32), integer(4, 64), 1))
    for V, E, H, L in cases:
        with seeded(0):
            want = num_params(RNNLM(RNNConfig(V, n_embd=E, n_hidden=H, n_layer=L)))
        with forbid(fn, BUILD, message=_("don't build a model here: count its parameters from the shapes.")), \
                forbid(fn, "lmutils.models.num_params"):
            got, err = attempt(fn, V, E, H, L)
        if err is not None:
            return err
        count = number(got)
        if count is None:
            return hint(_("rnn_lm_params should return a number, got {kind}.", kind=type(got).__name__))
        if count == want:
            continue
        where = _("for vocab_size, n_embd, n_hidden, n_layer = {case}", case=(V, E, H, L))
        if count == want - H * L:
            return hint(_("{where} you are {n} short: PyTorch's RNN keeps two bias vectors per layer, each of size "
                          "n_hidden.", where=where, n=H * L))
        if count == want - V:
            return hint(_("{where} you are {n} short: the output layer has a bias too.", where=where, n=V))
        if count == want - V * E:
            return hint(_("{where} you left out the embedding table: one vector per character.", where=where))
        if L > 1 and count == want - (L - 1) * (2 * H * H + 2 * H):
            return hint(_("{where} your count is right for one layer: each further layer has its own weights.",
                          where=where))
        if L > 1 and count == want + (L - 1) * (H * E - H * H):
            return hint(_("{where}: the second layer's input is not the embedding but the first layer's state: "
                          "n_hidden numbers, not n_embd.", where=where))
        return hint(_("{where} the model has a different count (you give {got:,}): list its layers first.",
                      where=where, got=int(count)),
                    _("{where}: add up the embedding, each RNN layer's input weights, recurrent weights and two "
                      "biases, and the output layer's weights and bias.", where=where),
                    _("V·E + (H·__ + H·H + 2H) + (n_layer − 1)·(H·__ + H·H + 2H) + H·V + __"))
    return correct(_("embedding + RNN layers + output layer, as num_params counts them."))


CLIP = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm_",
        "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grad.get_total_norm",
        "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.clip_grad.clip_grads_with_norm_",
        "lmutils.optim.clip_grad_norm")


@checker
def clip(fn):
    """clip(grads, max_norm) = (the gradients rescaled by min(1, max_norm / global norm), the global norm before
    clipping); the inputs stay unchanged."""
    shapes = [[(integer(2, 5), integer(2, 5)) for _i in range(integer(2, 4))] + [(integer(3, 9),)] for _j in range(2)]
    cases = []
    for shape in shapes:
        grads = [torch.randn(s, generator=rng()) for s in shape]
        total = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
        cases += [(grads, uniform(0.1, 0.9) * total), (grads, uniform(1.2, 3) * total)]
    cases.append(([torch.zeros(3, 2), torch.zeros(4)], 1.0))        # nothing to clip, nothing to divide by
    for grads, max_norm in cases:
        total = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
        given = [g.clone() for g in grads]
        with forbid(fn, *CLIP):
            got, err = attempt(fn, given, max_norm)
        if err is not None:
            return err
        if any(not torch.equal(a, b) for a, b in zip(given, grads)):
            return hint(_("your function changed the gradients it was given: return new tensors instead."))
        if not isinstance(got, (list, tuple)) or len(got) != 2 or not isinstance(got[0], (list, tuple)):
            return hint(_("return two things: the list of clipped gradients, and the norm before clipping."))
        clipped, norm = got
        if len(clipped) != len(grads) or not all(torch.is_tensor(g) for g in clipped):
            return hint(_("the first thing to return is a list of tensors, one per gradient ({n} here).",
                          n=len(grads)))
        if any(a.shape != b.shape for a, b in zip(clipped, grads)):
            return hint(_("each clipped gradient keeps the shape of its input."))
        scale = min(1.0, max_norm / total) if total > 0 else 1.0
        if number(norm) is None or not math.isclose(number(norm), total, rel_tol=1e-5, abs_tol=1e-7):
            if total > 0 and number(norm) is not None and any(
                    math.isclose(number(norm), g.norm().item(), rel_tol=1e-5) for g in grads):
                return hint(_("the norm you return is one tensor's: clipping uses one norm over all gradients "
                              "together."))
            return hint(_("the second thing to return is the global norm before clipping: {n} gradients here, one "
                          "norm over all their numbers together.", n=len(grads)),
                        _("the global norm is the square root of the sum of the squares of every number in every "
                          "gradient."))
        if all(close(a, b * scale) for a, b in zip(clipped, grads)):
            continue
        if any(torch.isnan(a).any() for a in clipped):
            return hint(_("with all-zero gradients (norm 0) you return NaN: 0/0. When the norm is already at most "
                          "max_norm there is nothing to rescale."))
        if scale < 1 and all(close(a, b) for a, b in zip(clipped, grads)):
            return hint(_("you return the gradients unchanged, but their norm ({norm:.3g}) is above max_norm "
                          "({max:.3g}).", norm=total, max=max_norm))
        if all(close(a, b * min(1.0, max_norm / max(b.norm().item(), 1e-12))) for a, b in zip(clipped, grads)):
            return hint(_("each tensor was clipped on its own (as in the one-tensor cliff example above): clipping "
                          "uses one norm over all gradients together."))
        if max_norm > total and all(close(a, b * max_norm / total) for a, b in zip(clipped, grads)):
            return hint(_("when the norm ({norm:.3g}) is already below max_norm ({max:.3g}) the gradients must stay "
                          "as they are.", norm=total, max=max_norm))
        return hint(_("not the expected values: which norm does clip_grad_norm_ compute, and when does it rescale?"),
                    _("compute the norm over all gradients together (here {norm:.4g}), then rescale every gradient "
                      "by the same factor if it exceeds max_norm ({max:.4g}).", norm=total, max=max_norm),
                    _("scale = min(1, max_norm / __); [g * __ for g in grads]"))
    return correct(_("the same as torch.nn.utils.clip_grad_norm_, which also returns the norm before clipping."))


def _tiny_run(fn, grad_accum):
    """(fit's losses, fit's model, the student's result, the student's model, error) on a tiny RNN and random
    text, with a random seed for the batches."""
    ids = torch.randint(0, 12, (3000,), generator=rng())
    cfg = TrainConfig(max_iters=integer(4, 7), batch_size=integer(2, 5), block_size=integer(6, 10),
                      grad_accum=grad_accum, learning_rate=1e-2, warmup_iters=2, log_interval=1, eval_interval=1000,
                      eval_iters=1, dtype="float32", seed=integer(0, 10 ** 6))
    models = []
    for _i in range(2):
        with seeded(0):
            models.append(RNNLM(RNNConfig(12, n_embd=8, n_hidden=16)))
    reference = fit(models[0], ids, ids[:200], cfg, device="cpu", report=Reporter()).train_loss
    with forbid(fn, "lmutils.train.fit", "lmutils.train.train_step", notebook=("my_fit",)):
        got, err = attempt(fn, models[1], ids, cfg)
    return reference, models[0], got, models[1], err


@checker
def fit_accum(fn):
    """my_fit_accum(model, ids, cfg): fit's training losses (one per optimizer step) and final weights, with
    cfg.grad_accum micro-batches per step."""
    for accum in (1, integer(2, 4)):
        reference, ref_model, got, model, err = _tiny_run(fn, accum)
        if err is not None:
            return err
        try:
            got = [float(v) for v in got]
        except (TypeError, ValueError):
            return hint(_("return a list of numbers: the training loss of every optimizer step (loss.item())."))
        if len(got) != len(reference):
            return hint(_("return one loss per optimizer step: {n} here (cfg.max_iters), got {got}.",
                          n=len(reference), got=len(got)))
        same_weights = all(close(p, q, 1e-5) for p, q in zip(model.parameters(), ref_model.parameters()))
        if close(got, reference, 1e-5) and same_weights:
            continue
        if accum == 1:
            return hint(_("with grad_accum = 1 this is the loop of \"Inside fit\": is everything there, in that "
                          "order?"),
                        _("with grad_accum = 1: make_optimizer, a torch.Generator seeded with cfg.seed for the "
                          "batches, the schedule's learning rate at every step, and clipping to cfg.grad_clip "
                          "before the "
                          "optimizer's step: compare your loop with the one above, line by line."),
                        _("for group in optimizer.param_groups: group[\"lr\"] = __; then, after backward(), "
                          "torch.nn.utils.clip_grad_norm_(model.parameters(), __) and optimizer.step()"))
        if close(got[0], accum * reference[0], 1e-5):
            return hint(_("the loss of a step is the mean over its micro-batches, not their sum."),
                        _("divide each micro-batch's loss by cfg.grad_accum (before backward: that also scales the "
                          "gradient right), and add the divided losses up."),
                        _("loss = F.cross_entropy(…) / __; loss.backward(); total += loss.__()"))
        if not close(got[0], reference[0], 1e-5):
            return hint(_("with grad_accum = {k} your first step's loss differs: does every step draw "
                          "cfg.grad_accum micro-batches of cfg.batch_size windows from the generator, one after the "
                          "other?", k=accum),
                        _("for each of the cfg.grad_accum micro-batches: a batch from get_batch with the generator, "
                          "forward, the loss divided by cfg.grad_accum, backward."),
                        _("for _ in range(__): x, y = get_batch(ids, cfg.block_size, cfg.batch_size, device, "
                          "generator=__)"))
        return hint(_("your losses start right but the weights drift: what happens to the gradients between "
                      "micro-batches?"),
                    _("zero the gradients once per optimizer step, before its micro-batches, so that backward adds "
                      "them up; divide each loss by cfg.grad_accum; then clip and step once."),
                    _("optimizer.zero_grad() goes __ the loop over the micro-batches, optimizer.step() __ it"))
    return correct(_("your loop trains exactly as fit does, with gradient accumulation."))


@functools.cache
def _shakespeare():
    _tok, train_ids, val_ids = encode_corpus("shakespeare")
    return train_ids, val_ids[:20_000]


@functools.lru_cache(maxsize=64)  # the same settings train the same model: measured once
def rnn_run(learning_rate: float, steps: int = 150) -> float:
    """A small character RNN trained by fit for `steps` steps at this learning rate: its validation loss."""
    train_ids, val_ids = _shakespeare()
    with seeded(0):
        model = RNNLM(RNNConfig(65, n_embd=32, n_hidden=128))
    cfg = TrainConfig(max_iters=steps, batch_size=32, block_size=32, learning_rate=learning_rate, warmup_iters=10,
                      eval_interval=10 ** 6, eval_iters=1, dtype="float32", seed=0)
    fit(model, train_ids, val_ids, cfg, device="cpu", report=Reporter())
    return evaluate(model, val_ids, 32)


RNN_TARGET = 2.2  # nats per character after 150 steps: the bigram is at 2.48, the trigram at 2.05


@checker
def learning_rate(lr):
    """Experiment: a learning rate with which 150 steps of fit bring a small character RNN (32/128) below
    RNN_TARGET on the validation text."""
    if unanswered(lr):
        return placeholder()
    value = number(lr)
    if value is None or not 0 < value <= 10:
        return hint(_("give one learning rate, a positive number (at most 10), e.g. 1e-3."))
    loss = rnn_run(value)
    if loss < RNN_TARGET:
        return correct(_("η = {lr:g}: validation loss {loss:.3f} after 150 steps, below {target} (the bigram: "
                         "2.48). Too small a rate crawls; too large a one overshoots and lands higher again.",
                         lr=value, loss=loss, target=RNN_TARGET))
    return hint(_("η = {lr:g}: validation loss {loss:.3f} after 150 steps, not below {target}. Try rates ten "
                  "times apart first (1e-3, 1e-2, 1e-1), then in between.", lr=value, loss=loss, target=RNN_TARGET),
                _("η = {lr:g}: {loss:.3f}. The notebook's run uses 5e-3 for 1,500 steps; with ten times fewer steps a "
                  "larger rate can pay.", lr=value, loss=loss))
