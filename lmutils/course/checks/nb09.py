"""Checkers for notebook 09 (pre-training and fine-tuning)."""

import copy
import functools

import torch

from ...checkpoint import load_model
from ...data import load_corpus
from ...files import course_dir
from ...finetune import GPTClassifier, add_lora, speeches, trainable_params
from ...models import GPT, GPTConfig
from ...progress import Reporter
from ...train import TrainConfig, evaluate, fit
from ..i18n import _
from . import BUILD, attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, seeded, \
    shape_of, unanswered
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

LORA = ("lmutils.finetune.LoRALinear.forward", "lmutils.finetune.LoRALinear.merged_weight",
        "lmutils.finetune.merge_lora", "lmutils.finetune.GPTClassifier.features", "lmutils.finetune.hidden_states")


@checker
def lora_forward(fn):
    """lora_forward(x, W, b, A, B, alpha): a frozen nn.Linear (weight W of shape (out, in), bias b) plus its
    LoRA adapter of rank r (A: (r, in), B: (out, r)) scaled by alpha / r, for x of shape (..., in)."""
    for lead in [(integer(1, 5),), (integer(1, 3), integer(1, 4)), (integer(1, 5),)]:
        n_in, n_out, r = integer(3, 9), integer(2, 8), integer(1, 4)
        if n_in == n_out:
            n_in += 1
        x = torch.randn(*lead, n_in, generator=rng())
        W, b = torch.randn(n_out, n_in, generator=rng()), torch.randn(n_out, generator=rng())
        A, B = torch.randn(r, n_in, generator=rng()), torch.randn(n_out, r, generator=rng())  # B ≠ 0: trained
        alpha = float(integer(1, 32))
        with forbid(fn, *LORA):
            got, err = attempt(fn, x.clone(), W.clone(), b.clone(), A.clone(), B.clone(), alpha)
        if err is not None:
            return err
        want = x @ W.T + b + alpha / r * (x @ A.T) @ B.T
        if not torch.is_tensor(got) or got.shape != want.shape:
            return hint(_("for x {x} and W {W} the output has shape {want} (out_features last); got {got}. Like "
                          "nn.Linear, multiply by the transposed weights.", x=tuple(x.shape), W=tuple(W.shape),
                          want=tuple(want.shape), got=shape_of(got)))
        if close(got, want):
            continue
        where = _("for rank r = {r} and alpha = {a:g}", r=r, a=alpha)
        frozen = x @ W.T + b
        if close(got, frozen):
            return hint(_("your output is the frozen layer's alone: add the adapter's path, B(A x), scaled."))
        if close(got, frozen - b) or close(got, want - b):
            return hint(_("the frozen layer's bias b is missing."))
        path = (x @ A.T) @ B.T
        if close(got, frozen + alpha * path):
            return hint(_("{where}: the adapter is scaled by alpha, but LoRA's scale is alpha / r: the rank is how "
                          "many rows A has.", where=where))
        if close(got, frozen + path):
            return hint(_("{where}: the adapter's path is there but not scaled: multiply it by alpha / r.",
                          where=where))
        if close(got, frozen + alpha / A.shape[1] * path):
            return hint(_("{where}: the rank is A's number of rows (A is (r, in)), not its columns.", where=where))
        return hint(_("not yet W x + b + (alpha / r) · B A x, applied to each vector of x."),
                    _("with rows of x: the frozen part x Wᵀ + b, the adapter x Aᵀ Bᵀ (first down to r numbers, then "
                      "up to out), times alpha / r."),
                    _("x @ W.T + b + alpha / __ * (x @ __) @ __"))
    return correct(_("the frozen layer's output plus the low-rank path, as LoRALinear.forward computes it."))


@checker
def lora_params(fn):
    """lora_params(n_layer, n_embd, rank, n_classes) = the trainable parameters of GPTClassifier(body, n_classes)
    after add_lora(body, rank): the adapters of each block's attn.qkv and attn.proj, and the head."""
    for _case in range(3):
        L, C, r, k = integer(1, 6), 8 * integer(1, 24), integer(1, 16), integer(2, 6)
        with seeded(0):
            body = GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=L, n_head=1, n_embd=C))
            add_lora(body, rank=r)
            want = trainable_params(GPTClassifier(body, k))
        with forbid(fn, BUILD, message=_("don't build a model here: count its trainable parameters from the "
                                         "shapes.")), \
                forbid(fn, "lmutils.finetune.trainable_params", "lmutils.finetune.add_lora",
                       "lmutils.models.num_params"):
            got, err = attempt(fn, L, C, r, k)
        if err is not None:
            return err
        count = number(got)
        if count is None:
            return hint(_("lora_params should return a number, got {kind}.", kind=type(got).__name__))
        if count == want:
            continue
        where = _("for n_layer={L}, n_embd={C}, rank={r}, n_classes={k}", L=L, C=C, r=r, k=k)
        head = C * k + k
        if count == want - head:
            return hint(_("{where} you left out the classification head: it trains too.", where=where))
        if count == want - k:
            return hint(_("{where} you are {k} short: the head is an nn.Linear, with a bias.", where=where, k=k))
        if count in (want - 2 * r * C * L, want - 4 * r * C * L):
            return hint(_("{where}: each block has two adapted layers, attn.qkv (n_embd → 3·n_embd) and attn.proj "
                          "(n_embd → n_embd): count both, each with its own input and output sizes.", where=where))
        if count > want * 5:
            return hint(_("{where} you count {got:,}: LoRA freezes the body, only the adapters and the head "
                          "train.", where=where, got=int(count)))
        return hint(_("{where} you count {got:,}; not right. What trains after add_lora: list the adapted layers "
                      "and the head.", where=where, got=int(count)),
                    _("an adapter of rank r on a Linear layer (in → out) adds A (r × in) and B (out × r); the head is "
                      "a Linear layer n_embd → n_classes with a bias."),
                    _("n_layer · (r·(C + __·C) + r·(C + __)) + C·n_classes + __"))
    return correct(_("a few percent of the model: one body can carry many tasks, each with its own small adapter."))


@checker
def mean_pool(fn):
    """mean_pool(h, mask): h (B, T, C), mask (B, T) of 1s (real) and 0s (padding, anywhere in the row) → (B, C),
    the mean of each sequence's real positions."""
    for _case in range(3):
        B, T, C = integer(2, 5), integer(3, 9), integer(2, 6)
        h = torch.randn(B, T, C, generator=rng())
        mask = (torch.rand(B, T, generator=rng()) < 0.6).float()
        mask[0] = 1.0                                   # a row without padding
        mask[1] = 0.0
        mask[1, -integer(1, T - 1):] = 1.0              # padding at the start (left padding)
        for row in mask:
            if row.sum() == 0:
                row[integer(0, T - 1)] = 1.0
        with forbid(fn, *LORA):
            got, err = attempt(fn, h.clone(), mask.clone())
        if err is not None:
            return err
        want = torch.stack([h[i, m.bool()].mean(0) for i, m in enumerate(mask)])
        if not torch.is_tensor(got) or got.shape != want.shape:
            return hint(_("expected shape {want}: one vector per sequence; got {got}.", want=tuple(want.shape),
                          got=shape_of(got)))
        if close(got, want):
            continue
        if close(got, h.mean(1)):
            return hint(_("you averaged over every position, padding included: use only those where mask is 1."))
        if close(got, (h * mask[..., None]).mean(1)):
            return hint(_("the padding is zeroed, but you still divide by T = {T}: divide by the number of real "
                          "tokens of each sequence.", T=T),
                        _("each sequence has its own number of real tokens: mask.sum(1) of them, one count per row."),
                        _("(h * mask[..., None]).sum(1) / mask.sum(__, keepdim=__)"))
        lengths = mask.sum(1).long()
        if close(got, torch.stack([h[i, :n].mean(0) for i, n in enumerate(lengths)])):
            return hint(_("you average the first n positions of each row, but the padding is not always at the "
                          "end (row 1 here is padded at the start): use the mask itself."))
        return hint(_("not yet the mean of the real positions: weight each position by its mask, add up, divide by "
                      "the number of real positions of its row."))
    return correct(_("padding changes nothing, wherever it is: each sequence is the mean of its own characters' "
                     "states."))


@functools.lru_cache(maxsize=1)
def _prospero():
    """The notebook's pre-trained 3 × 160 GPT and Prospero's speeches: his first 80 % to fine-tune on, the rest to
    validate on."""
    model, tok = load_model(course_dir("data") / "pretrained" / "gpt-shakespeare-3x160.ckpt", "cpu")
    target = [body for who, body, at in speeches(load_corpus("shakespeare")) if who == "PROSPERO"]
    n_ft = int(0.8 * len(target))
    ft_train = torch.tensor(tok.encode("\n\n".join(target[:n_ft])))
    ft_val = torch.tensor(tok.encode("\n\n".join(target[n_ft:])))
    return model.eval(), ft_train, ft_val


@functools.lru_cache(maxsize=1)
def frozen_loss() -> float:
    model, _train, ft_val = _prospero()
    return evaluate(model, ft_val, model.block_size)


@functools.lru_cache(maxsize=64)  # the same settings train the same model: measured once
def lora_run(rank: int, learning_rate: float) -> float:
    """LoRA (rank r, alpha = r) on attention's qkv and proj, 40 steps of fit on Prospero (the notebook's fine-tuning
    settings but the learning rate): the validation loss."""
    model, ft_train, ft_val = _prospero()
    model = copy.deepcopy(model)
    add_lora(model, rank=rank)
    cfg = TrainConfig(max_iters=40, batch_size=16, block_size=64, learning_rate=learning_rate,
                      min_lr=learning_rate / 10, warmup_iters=5, eval_interval=10 ** 6, eval_iters=1, grad_clip=1.0,
                      dtype="float32", seed=0)
    with seeded(0):
        fit(model, ft_train, ft_val, cfg, device="cpu", report=Reporter())
    return evaluate(model, ft_val, model.block_size)


LORA_MARGIN = 0.08  # the fine-tuned LoRA must beat the frozen body by this much (full fine-tuning: about 0.15)


@checker
def lora_finetune(settings):
    """Experiment: settings = dict(rank=..., learning_rate=...); 40 steps of LoRA fine-tuning on Prospero must bring
    the validation loss at least LORA_MARGIN below the frozen pre-trained body's."""
    if unanswered(settings):
        return placeholder()
    if not isinstance(settings, dict) or set(settings) != {"rank", "learning_rate"}:
        return hint(_("give a dict with two keys: dict(rank=2, learning_rate=1e-4), say."))
    rank, lr = number(settings["rank"]), number(settings["learning_rate"])
    if rank is None or rank != int(rank) or not 1 <= rank <= 64 or lr is None or not 1e-5 <= lr <= 1:
        return hint(_("rank must be a whole number from 1 to 64, learning_rate a number between 1e-5 and 1."))
    frozen, loss = frozen_loss(), lora_run(int(rank), lr)
    if loss <= frozen - LORA_MARGIN:
        return correct(_("rank {r}, η = {lr:g}: {loss:.4f} on Prospero's validation speeches, {gain:.3f} below the "
                         "frozen body's {frozen:.4f}, training about 1 % of the parameters.", r=int(rank), lr=lr,
                         loss=loss, gain=frozen - loss, frozen=frozen))
    return hint(_("rank {r}, η = {lr:g}: {loss:.4f}, only {gain:.3f} below the frozen body's {frozen:.4f} (the goal: "
                  "{margin}). Try learning rates ten times apart.", r=int(rank), lr=lr, loss=loss, gain=frozen - loss,
                  frozen=frozen, margin=LORA_MARGIN),
                _("rank {r}, η = {lr:g}: {loss:.4f}. The adapters start at B = 0 and have 40 steps to move: with the "
                  "learning rate of full fine-tuning (3e-4) they barely do.", r=int(rank), lr=lr, loss=loss))
