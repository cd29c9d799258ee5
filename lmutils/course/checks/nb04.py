"""Checkers for notebook 04 (recurrent networks)."""

import torch

from . import attempt, checker, close, correct, forbid, hint, seeded
from ...models import RNNConfig, RNNLM, num_params
from ...progress import Reporter
from ...train import TrainConfig, fit


def _tensor_answer(got, name, shape):
    if not torch.is_tensor(got):
        return hint(f"{name} should return a torch tensor, got {type(got).__name__}.")
    if tuple(got.shape) != shape:
        return hint(f"{name} should return shape {shape} here, got {tuple(got.shape)}.")
    return None


def _count(fn, name, *args):
    """The student's function's answer as an int, or (None, feedback) when there is none."""
    got, err = attempt(fn, *args)
    if err is not None:
        return None, err
    try:
        return int(got), None
    except (TypeError, ValueError):
        return None, hint(f"{name} should return a number, got {type(got).__name__}.")


@checker
def rnn_step(fn):
    """my_rnn_step(x_t, h_prev, W, b_h) = tanh([h_prev, x_t] Wᵀ + b_h), with one matrix W = [W_hh | W_xh]
    (n_hidden, n_hidden + n_in) acting on the concatenation [h_{t-1}, x_t]."""
    g = torch.Generator().manual_seed(4)
    B, n_in, n_hidden = 3, 5, 4
    x_t, h_prev = torch.randn(B, n_in, generator=g), torch.randn(B, n_hidden, generator=g)
    W_hh, W_xh = torch.randn(n_hidden, n_hidden, generator=g), torch.randn(n_hidden, n_in, generator=g)
    b_h, W = torch.randn(n_hidden, generator=g), torch.cat([W_hh, W_xh], dim=1)
    with forbid(fn, "lmutils.recurrent.rnn_forward", "torch.rnn_tanh_cell", "torch.rnn_relu_cell"):
        got, err = attempt(fn, x_t.clone(), h_prev.clone(), W.clone(), b_h.clone())
    if err is not None:
        if "shape" in err.message or "size" in err.message:
            return hint(f"{err.message} Write down the shapes: [h_prev, x_t] is (B, n_hidden + n_in), "
                        "W is (n_hidden, n_hidden + n_in).",
                        f"{err.message} Concatenate along the features (dim=1): (B, n_hidden + n_in), then "
                        "multiply by W transposed.")
        return err
    bad = _tensor_answer(got, "my_rnn_step", (B, n_hidden))
    if bad is not None:
        return bad
    a = h_prev @ W_hh.T + x_t @ W_xh.T + b_h
    if close(got, torch.tanh(a)):
        return correct("one matrix on the concatenation [h, x] is the two matrices W_hh and W_xh side by side.")
    if close(got, a):
        return hint("the pre-activation is right; the new state goes through a nonlinearity "
                    "(which one does nn.RNN use?).")
    if close(got, torch.sigmoid(a)):
        return hint("nn.RNN's nonlinearity maps to (-1, 1), not (0, 1).")
    if close(got, torch.tanh(a - b_h)):
        return hint("the bias b_h is missing.")
    if close(got, torch.tanh(torch.cat([x_t, h_prev], 1) @ W.T + b_h)):
        return hint("the order of the concatenation: which columns of W multiply h_{t-1}, which x_t?",
                    "W = [W_hh | W_xh]: its first n_hidden columns multiply h_{t-1}, so concatenate [h_prev, x_t] "
                    "in that order.")
    return hint("write h_t = tanh(W [h_{t-1}; x_t] + b_h) for a batch of row vectors: what is the shape of each piece?",
                "concatenate h_prev and x_t along the features, multiply by W transposed, add b_h, then tanh.",
                "torch.tanh(torch.cat([h_prev, x_t], dim=1) @ W.T + b_h).")


@checker
def grad_to_previous(fn):
    """grad_to_previous(g, h_t, W_hh) = (g ⊙ (1 - h_t²)) W_hh, i.e. W_hhᵀ[(1 - h_t²) ⊙ g] per row."""
    gen = torch.Generator().manual_seed(5)
    g = torch.randn(3, 4, generator=gen)
    h_t = torch.tanh(torch.randn(3, 4, generator=gen))
    W_hh = torch.randn(4, 4, generator=gen)
    with forbid(fn, "lmutils.recurrent.rnn_backward"):
        got, err = attempt(fn, g.clone(), h_t.clone(), W_hh.clone())
    if err is not None:
        return err
    bad = _tensor_answer(got, "grad_to_previous", (3, 4))
    if bad is not None:
        return bad
    da = g * (1 - h_t ** 2)
    if close(got, da @ W_hh):
        return correct("chain rule through tanh, then through W_hh: the heart of BPTT.")
    if close(got, da @ W_hh.T):
        return hint("almost: check the transpose. Going forward multiplies by W_hh.T; what does going back do?",
                    "the transpose: going backwards through h_t = tanh(h_{t-1} @ W_hh.T + …) multiplies by W_hh "
                    "(for row vectors), not W_hh.T.")
    if close(got, g @ W_hh) or close(got, g @ W_hh.T):
        return hint("the gradient must first go back through the tanh.",
                    "the gradient must first go back through the tanh: multiply by its derivative at h_t.")
    if close(got, (g * (1 - h_t)) @ W_hh) or close(got, (g * h_t * (1 - h_t)) @ W_hh):
        return hint("that is not the derivative of tanh: write it in terms of tanh's output h_t.",
                    "tanh'(a) = 1 − tanh(a)² = 1 − h_t².")
    return hint("h_t = tanh(a_t) with a_t = h_{t-1} @ W_hh.T + …: two steps back, through tanh then through a_t.",
                "apply the chain rule through tanh (its derivative is 1 − h_t²), then through a_t (a matrix product).",
                "(g * (1 - h_t ** 2)) @ W_hh: back through tanh, then through h_{t-1} @ W_hh.T.")


@checker
def rnn_lm_params(fn):
    """rnn_lm_params(vocab_size, n_embd, n_hidden) = number of parameters of a one-layer RNNLM."""
    for V, E, H in [(65, 32, 256), (10, 4, 8), (100, 16, 5)]:
        with seeded(0):
            want = num_params(RNNLM(RNNConfig(V, n_embd=E, n_hidden=H)))
        with forbid(fn, "lmutils.models.num_params", "lmutils.models.RNNLM", "torch.nn.RNN"):
            got, bad = _count(fn, "rnn_lm_params", V, E, H)
        if bad is not None:
            return bad
        if got == want:
            continue
        if got == want - H:
            return hint(f"for {(V, E, H)} you are {H} short: PyTorch's RNN keeps two bias vectors, "
                        "both of size n_hidden.")
        if got == want - V:
            return hint(f"for {(V, E, H)} you are {V} short: the output layer has a bias too.")
        if got == want - V * E:
            return hint("the embedding table has parameters too: one vector per character.")
        return hint(f"for vocab_size, n_embd, n_hidden = {(V, E, H)} the model has a different count: list its "
                    "layers first.",
                    f"for vocab_size, n_embd, n_hidden = {(V, E, H)} the model has a different count: add up the "
                    "embedding, the RNN's weights and biases, and the output layer.",
                    "embedding V·E, RNN H·E + H·H + 2H (two biases), output layer H·V + V.")
    return correct("embedding + RNN + output layer, as num_params counts them.")


@checker
def clip(fn):
    """clip(grads, max_norm): the gradients rescaled by min(1, max_norm / global norm), inputs unchanged."""
    gen = torch.Generator().manual_seed(6)
    grads = [torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen), torch.randn(2, 2, generator=gen)]
    total = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
    for max_norm in (1.0, 2 * total):
        given = [g.clone() for g in grads]
        with forbid(fn, "torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm_",
                    "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grad.get_total_norm"):
            got, err = attempt(fn, given, max_norm)
        if err is not None:
            return err
        if any(not torch.equal(a, b) for a, b in zip(given, grads)):
            return hint("your function changed the gradients it was given: return new tensors instead.")
        if not isinstance(got, (list, tuple)) or len(got) != len(grads) or not all(torch.is_tensor(g) for g in got):
            return hint("clip should return a list of tensors, one per gradient.")
        if any(a.shape != b.shape for a, b in zip(got, grads)):
            return hint("each clipped gradient keeps the shape of its input.")
        scale = min(1.0, max_norm / total)
        if all(close(a, b * scale) for a, b in zip(got, grads)):
            continue
        if all(close(a, b * min(1.0, max_norm / b.norm().item())) for a, b in zip(got, grads)):
            return hint("each tensor was clipped on its own: clip_grad_norm_ uses one norm over all gradients "
                        "together.")
        if max_norm > total and all(close(a, b * max_norm / total) for a, b in zip(got, grads)):
            return hint("when the norm is already below max_norm the gradients must stay as they are.")
        return hint("not the expected values: which norm does clip_grad_norm_ compute, and when does it rescale?",
                    "compute the norm over all gradients together, then rescale if it exceeds max_norm.",
                    "norm = sqrt(Σ over all tensors of (g²).sum()); multiply every g by min(1, max_norm / norm).")
    return correct("the same as torch.nn.utils.clip_grad_norm_.")


def _tiny_run(fn, grad_accum):
    """(fit's losses, fit's model, the student's result, the student's model) on a tiny RNN and random text."""
    ids = torch.randint(0, 12, (3000,), generator=torch.Generator().manual_seed(4))
    cfg = TrainConfig(max_iters=6, batch_size=4, block_size=8, grad_accum=grad_accum, learning_rate=1e-2,
                      warmup_iters=2, log_interval=1, eval_interval=1000, eval_iters=1, dtype="float32", seed=3)
    models = []
    for _ in range(2):
        with seeded(0):
            models.append(RNNLM(RNNConfig(12, n_embd=8, n_hidden=16)))
    reference = fit(models[0], ids, ids[:200], cfg, device="cpu", report=Reporter()).train_loss
    with forbid(fn, "lmutils.train.fit", "lmutils.train.train_step"):
        got, err = attempt(fn, models[1], ids, cfg)
    return reference, models[0], got, models[1], err


@checker
def fit_accum(fn):
    """my_fit_accum(model, ids, cfg): fit's training losses (one per optimizer step) and final weights, with
    cfg.grad_accum micro-batches per step."""
    for accum in (1, 3):
        reference, ref_model, got, model, err = _tiny_run(fn, accum)
        if err is not None:
            return err
        try:
            got = [float(v) for v in got]
        except (TypeError, ValueError):
            return hint("return a list of numbers: the training loss of every optimizer step (loss.item()).")
        if len(got) != len(reference):
            return hint(f"return one loss per optimizer step: {len(reference)} here (cfg.max_iters), got {len(got)}.")
        same_weights = all(close(p, q, 1e-5) for p, q in zip(model.parameters(), ref_model.parameters()))
        if close(got, reference, 1e-5) and same_weights:
            continue
        if accum == 1:
            return hint("with grad_accum = 1 this is the loop of \"Inside fit\": is everything there, in that order?",
                        "make_optimizer(model, cfg, device); a torch.Generator seeded with cfg.seed for get_batch; "
                        "lr_at(step, cfg) each step; clip_grad_norm_ to cfg.grad_clip before optimizer.step().")
        if close(got[0], accum * reference[0], 1e-5):
            return hint("the loss of a step is the mean over its micro-batches, not their sum.",
                        "divide each micro-batch's loss by cfg.grad_accum (before backward: that also scales the "
                        "gradient right), and add the divided losses up.")
        if not close(got[0], reference[0], 1e-5):
            return hint("your first step's loss differs: does every step draw cfg.grad_accum micro-batches of "
                        "cfg.batch_size windows from the generator, one after the other?",
                        "for each of the cfg.grad_accum micro-batches: get_batch(ids, cfg.block_size, cfg.batch_size, "
                        "device, generator=gen), forward, loss / cfg.grad_accum, backward.")
        return hint("your losses start right but the weights drift: what happens to the gradients between "
                    "micro-batches?",
                    "zero the gradients once per optimizer step, before its micro-batches, so that backward adds "
                    "them up; divide each loss by cfg.grad_accum; then clip and step once.")
    return correct("your loop trains exactly as fit does, with gradient accumulation.")
