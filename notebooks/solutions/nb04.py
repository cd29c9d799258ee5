"""Solutions to notebook 04's exercises (recurrent networks)."""

import torch
import torch.nn.functional as F

from lmutils.data import get_batch
from lmutils.train import lr_at, make_optimizer


def my_rnn_step(x_t, h_prev, W, b_h):
    """W = [W_hh | W_xh] acting on the concatenation [h_{t-1}, x_t]."""
    return torch.tanh(torch.cat([h_prev, x_t], dim=1) @ W.T + b_h)


def rnn_lm_params(vocab_size, n_embd, n_hidden, n_layer):
    embedding = vocab_size * n_embd
    first = n_hidden * n_embd + n_hidden * n_hidden + 2 * n_hidden    # W_xh, W_hh, bias_ih and bias_hh
    more = (n_layer - 1) * (n_hidden * n_hidden + n_hidden * n_hidden + 2 * n_hidden)  # their input is h
    head = n_hidden * vocab_size + vocab_size
    return embedding + first + more + head


def clip(grads, max_norm):
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / norm.item()) if norm > 0 else 1.0
    return [g * scale for g in grads], norm


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

# found by trying 1e-3, 1e-2, 1e-1, then in between: 1e-2 to 5e-2 pass, 2e-2 with the largest margin
learning_rate = 2e-2

SOLUTIONS = {
    "rnn_step": my_rnn_step,
    "rnn_lm_params": rnn_lm_params,
    "clip": clip,
    "fit_accum": my_fit_accum,
    "learning_rate": learning_rate,
}


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


def _norm(grads):
    return torch.sqrt(sum((g ** 2).sum() for g in grads))


# (answer, what the first hint says[, what the third hint says])
WRONG = {
    "rnn_step": [
        (lambda x_t, h_prev, W, b_h: torch.cat([h_prev, x_t], 1) @ W.T + b_h, "nonlinearity"),             # no tanh
        (lambda x_t, h_prev, W, b_h: torch.sigmoid(torch.cat([h_prev, x_t], 1) @ W.T + b_h), "(-1, 1)"),   # sigmoid
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 1) @ W.T), "bias b_h is missing"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([x_t, h_prev], 1) @ W.T + b_h),                 # [x, h]
         "shape of each piece", "torch.cat([__, __], dim=1) @ __ + b_h"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 1) @ W + b_h),                   # no .T
         "Write down the shapes", "torch.cat([__, __], dim=1)"),
        (lambda x_t, h_prev, W, b_h: torch.tanh(torch.cat([h_prev, x_t], 0) @ W.T + b_h), "Write down the shapes"),
    ],
    "rnn_lm_params": [
        (lambda V, E, H, L: V * E + L * (H * E + H * H + H) + H * V + V, "two bias vectors"),   # one bias per layer
        (lambda V, E, H, L: H * E + H * H + 2 * H + H * V + V, "embedding table"),              # no embedding
        (lambda V, E, H, L: V * E + H * E + H * H + 2 * H + H * V, "output layer has a bias"),
        (lambda V, E, H, L: V * E + L * (H * E + H * H + 2 * H) + H * V + V, "second layer's input"),
        (lambda V, E, H, L: H * H, "list its layers", "(n_layer − 1)·(H·__ + H·H + 2H)"),
    ],
    "clip": [
        (lambda grads, m: ([g * min(1.0, m / max(g.norm().item(), 1e-12)) for g in grads], _norm(grads)),
         "on its own"),
        (lambda grads, m: ([g * m / _norm(grads) for g in grads], _norm(grads)), "must stay as they are"),
        (lambda grads, m: ([g.mul_(min(1.0, m / _norm(grads).item())) for g in grads], 1.0), "changed the gradients"),
        (lambda grads, m: [g * min(1.0, m / _norm(grads).item()) for g in grads], "two things"),
        (lambda grads, m: ([g * min(1.0, m / _norm(grads).item()) for g in grads], grads[0].norm()), "one tensor's"),
        (lambda grads, m: (grads, _norm(grads)), "unchanged"),
        (lambda grads, m: ([g * 0.5 for g in grads], _norm(grads)), "which norm", "scale = min(1, max_norm / __)"),
    ],
    "fit_accum": [
        (_no_clip, "with grad_accum = 1", "group[\"lr\"] = __"),
        (_accum_variant(ignore_accum=True), "first step's loss differs", "for _ in range(__)"),
        (_accum_variant(mean=False), "mean over its micro-batches", "loss = F.cross_entropy(…) / __"),
        (_accum_variant(zero_each=True), "weights drift", "optimizer.zero_grad() goes __"),
    ],
    "learning_rate": [(1e-3, "not below"), (3e-3, "not below"), (1.0, "not below"), (-0.01, "positive number"),
                      ("fast", "positive number")],
}
