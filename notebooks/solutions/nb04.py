"""Solutions to notebook 04's exercises (recurrent networks)."""

import torch
import torch.nn.functional as F

from lmutils.data import get_batch
from lmutils.train import lr_at, make_optimizer


def my_rnn_step(x_t, h_prev, W, b_h):
    """W = [W_hh | W_xh] acting on the concatenation [h_{t-1}, x_t]."""
    return torch.tanh(torch.cat([h_prev, x_t], dim=1) @ W.T + b_h)


def grad_to_previous(g, h_t, W_hh):
    return (g * (1 - h_t ** 2)) @ W_hh  # back through tanh, then through h_{t-1} @ W_hh.T


def rnn_lm_params(vocab_size, n_embd, n_hidden):
    embedding = vocab_size * n_embd
    rnn = n_hidden * n_embd + n_hidden * n_hidden + 2 * n_hidden  # W_xh, W_hh, bias_ih and bias_hh
    head = n_hidden * vocab_size + vocab_size
    return embedding + rnn + head


def clip(grads, max_norm):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / norm.item())
    return [g * scale for g in grads]


def _accum_variant(mean=True, zero_each=False, ignore_accum=False):
    """my_fit_accum (the defaults), or my_fit_accum with one typical mistake."""
    def fit_accum(model, ids, cfg):
        device = next(model.parameters()).device
        optimizer = make_optimizer(model, cfg, device)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses = []
        for step in range(cfg.max_iters):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            optimizer.zero_grad()
            total = 0.0
            for _ in range(1 if ignore_accum else cfg.grad_accum):
                if zero_each:
                    optimizer.zero_grad()
                x, y = get_batch(ids, cfg.block_size, cfg.batch_size, device, generator=gen)
                loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten()) / (cfg.grad_accum if mean else 1)
                loss.backward()  # the gradients of the micro-batches add up in .grad
                total += loss.item()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            losses.append(total)
        return losses
    return fit_accum


my_fit_accum = _accum_variant()


def _no_clip(model, ids, cfg):
    optimizer = make_optimizer(model, cfg, torch.device("cpu"))
    gen = torch.Generator().manual_seed(cfg.seed)
    losses = []
    for step in range(cfg.max_iters):
        x, y = get_batch(ids, cfg.block_size, cfg.batch_size, generator=gen)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


SOLUTIONS = {
    "rnn_step": my_rnn_step,
    "grad_to_previous": grad_to_previous,
    "rnn_lm_params": rnn_lm_params,
    "clip": clip,
    "fit_accum": my_fit_accum,
}

# typical wrong answers: (answer, what the first hint says[, what the third hint says])
WRONG = {
    "rnn_step": [
        (lambda x_t, h_prev, W, b_h: torch.cat([h_prev, x_t], 1) @ W.T + b_h, "nonlinearity"),             # no tanh
        (lambda x_t, h_prev, W, b_h: torch.sigmoid(torch.cat([h_prev, x_t], 1) @ W.T + b_h), "(-1, 1)"),   # sigmoid
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 1) @ W.T), "bias b_h is missing"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([x_t, h_prev], 1) @ W.T + b_h),                 # [x, h]
         "which columns of W", "h_prev, x_t] in that order"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 1) @ W + b_h),                   # no .T
         "Write down the shapes", "multiply by W transposed"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 0) @ W.T + b_h), "Write down the shapes"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(h_prev @ W[:, :4].T + b_h), "shape of each piece",        # no x_t
         "torch.cat([h_prev, x_t], dim=1)"),
    ],
    "grad_to_previous": [
        (lambda g, h_t, W_hh: (g * (1 - h_t ** 2)) @ W_hh.T, "check the transpose", "not W_hh.T"),
        (lambda g, h_t, W_hh: g @ W_hh, "through the tanh"),                  # skipped tanh'
        (lambda g, h_t, W_hh: (g * (1 - h_t)) @ W_hh, "not the derivative of tanh", "1 − h_t²"),
        (lambda g, h_t, W_hh: g * (1 - h_t ** 2), "two steps back", "(g * (1 - h_t ** 2)) @ W_hh"),
    ],
    "rnn_lm_params": [
        (lambda V, E, H: V * E + H * E + H * H + H + H * V + V, "two bias vectors"),  # one RNN bias only
        (lambda V, E, H: H * E + H * H + 2 * H + H * V + V, "embedding table"),       # no embedding
        (lambda V, E, H: V * E + H * E + H * H + 2 * H + H * V, "output layer has a bias"),
        (lambda V, E, H: H * H, "list its layers", "embedding V·E"),
    ],
    "clip": [
        (lambda grads, max_norm: [g * min(1.0, max_norm / g.norm().item()) for g in grads], "on its own"),
        (lambda grads, max_norm: [g * max_norm / torch.sqrt(sum((h ** 2).sum() for h in grads)) for g in grads],
         "must stay as they are"),
        (lambda grads, max_norm: [g.mul_(min(1.0, max_norm / torch.sqrt(sum((h ** 2).sum() for h in grads)).item()))
                                  for g in grads], "changed the gradients"),  # in place (the norm changes too)
        (lambda grads, max_norm: grads, "which norm", "min(1, max_norm / norm)"),
    ],
    "fit_accum": [
        (_no_clip, "with grad_accum = 1", "lr_at(step, cfg)"),
        (_accum_variant(ignore_accum=True), "first step's loss differs", "for each of the cfg.grad_accum"),
        (_accum_variant(mean=False), "mean over its micro-batches", "divide each micro-batch's loss"),
        (_accum_variant(zero_each=True), "weights drift", "zero the gradients once per optimizer step"),
    ],
}
