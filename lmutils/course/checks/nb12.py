"""Checkers for notebook 12 (from a language model to an assistant). Each check draws new cases from rng(); hints
go a nudge, then a pointer, then a partial line with blanks, never the whole code."""

import functools
import math

import torch
import torch.nn.functional as F

from ..i18n import _
from . import attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, unanswered
from . import show_solution  # noqa: F401  the notebook calls check.show_solution("nb12.exercise")

IGNORE = -100
_LIBRARY = ("lmutils.chat.scored", "lmutils.chat.sft_example", "lmutils.chat.sequence_logprob",
            "lmutils.chat.dpo_loss", "lmutils.chat.kl_divergence")


def _masked(ids, n_prompt):
    return ids[:-1], [IGNORE] * (n_prompt - 1) + ids[n_prompt:]


@checker
def mask_prompt(fn):
    """mask_prompt(ids, n_prompt) -> (inputs, targets): inputs ids[:-1], targets ids[1:] with IGNORE wherever the
    target is still a prompt token (the first n_prompt ids are the prompt, up to and including <|assistant|>)."""
    for _i in range(4):
        length = integer(6, 24)
        n_prompt = integer(2, length - 2)
        ids = torch.randint(0, 68, (length,), generator=rng()).tolist()
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, list(ids), n_prompt)
        if err is not None:
            return err
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return hint(_("return two lists: (inputs, targets)."))
        x, y = (list(v.tolist() if torch.is_tensor(v) else v) for v in got)
        want_x, want_y = _masked(ids, n_prompt)
        if (x, y) == (want_x, want_y):
            continue
        if x == ids or len(y) == len(ids):
            return hint(_("the inputs and targets are the sequence shifted against each other: each one token "
                          "shorter than ids."),
                        _("inputs: every token but the last; targets: every token but the first."))
        if y == ids[1:]:
            return hint(_("nothing is masked yet: targets that are prompt tokens must carry no loss."),
                        _("put IGNORE (-100, cross-entropy's ignore_index) where the target is a prompt token."))
        if 0 in y and IGNORE not in y:
            return hint(_("0 is a real token id: a masked target must be one that cross-entropy skips."),
                        _("F.cross_entropy skips targets equal to its ignore_index, -100 by default."))
        if y == [IGNORE] * n_prompt + ids[n_prompt + 1:]:
            return hint(_("one target too many is masked: the first answer token must be predicted too."),
                        _("targets[i] is ids[i + 1]: which targets are prompt tokens, ids[1] ... ids[n_prompt - 1]?"),
                        _("targets = [IGNORE] * (n_prompt - __) + ids[n_prompt:]"))
        if y == [IGNORE] * (n_prompt - 2) + ids[n_prompt - 1:]:
            return hint(_("one prompt target is still scored: <|assistant|> is part of the prompt, the model never "
                          "has to write it."),
                        _("targets[i] is ids[i + 1]: the prompt's targets are ids[1] ... ids[n_prompt - 1]."),
                        _("targets = [IGNORE] * (n_prompt - __) + ids[n_prompt:]"))
        return hint(_("for ids of length {length} with a prompt of {n}, expected targets {want}, got {got}.",
                      length=length, n=n_prompt, want=want_y, got=y),
                    _("the targets are ids shifted by one; the first n_prompt - 1 of them are prompt tokens."),
                    _("targets = [IGNORE] * (n_prompt - __) + ids[__:]"))
    return correct(_("only the answer (and its end marker) carries loss: the model is never trained to write "
                     "prompts."))


def _logits_case():
    N, T, V = integer(2, 5), integer(4, 9), integer(5, 12)
    logits = 2 * torch.randn(N, T, V, generator=rng())
    targets = torch.randint(0, V, (N, T), generator=rng())
    for row in range(N):  # a prompt of some length in each row, and padding at the end of one
        targets[row, :integer(1, T - 2)] = IGNORE
    targets[0, -1] = IGNORE
    return logits, targets


def _seq_logprob(logits, targets):
    logp = F.log_softmax(logits.double(), -1)
    keep = targets != IGNORE
    return (logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0] * keep).sum(-1)


@checker
def sequence_logprob(fn):
    """sequence_logprob(logits, targets) -> (N,): log π(answer | prompt) of each row, the sum of log-softmax(logits)
    at the targets, over the targets that are not IGNORE."""
    for _i in range(2):
        logits, targets = _logits_case()
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, logits.clone(), targets.clone())
        if err is not None:
            if "out of bounds" in err.message or "index" in err.message:
                return hint(_("the masked targets (-100) are no token ids: keep them out of the look-up."),
                            _("look up at targets clamped to be at least 0, then keep only the scored positions."),
                            _("logp.gather(-1, targets.clamp(min=__)[..., None])"))
            return err
        want = _seq_logprob(logits, targets)
        if not torch.is_tensor(got) or got.shape != want.shape:
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            return hint(_("expected one number per row, shape {want}; got {got}.", want=tuple(want.shape), got=shape))
        if close(got, want):
            continue
        keep = targets != IGNORE
        picked = logits.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
        if close(got, (picked * keep).sum(-1)):
            return hint(_("those are raw logits: turn them into log-probabilities first."),
                        _("log-probabilities: a log-softmax over the vocabulary, then each target's."))
        if close(got, want / keep.sum(-1)):
            return hint(_("that is a mean per token: DPO compares whole answers, so sum over the answer's tokens."))
        if close(got, (F.log_softmax(logits, -1).gather(-1, targets.clamp(min=0)[..., None])[..., 0]).sum(-1)):
            return hint(_("the masked positions (-100) are counted too: only the answer's tokens count."),
                        _("multiply by the mask (targets != -100) before summing."))
        return hint(_("not yet the sum of the answer tokens' log-probabilities."),
                    _("log-softmax, then the target of each position, then keep the scored positions and sum."),
                    _("(picked * (targets != __)).sum(__)"))
    return correct(_("log π(y | x) of a whole answer: what DPO and the KL penalty are written in."))


def _dpo(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


@checker
def dpo_loss(fn):
    """dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta) -> the mean DPO loss (a 0-d tensor)."""
    for beta in (0.05 + torch.rand(3, generator=rng(), dtype=torch.float64) * 2).tolist():
        n = integer(3, 8)
        pc, pr, rc, rr = (-8 * torch.rand(n, generator=rng(), dtype=torch.float64) for _i in range(4))
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, pc.clone(), pr.clone(), rc.clone(), rr.clone(), beta)
        if err is not None:
            return err
        value = number(got) if not torch.is_tensor(got) or got.numel() == 1 else None
        if value is None:
            return hint(_("return one number (the mean over the pairs), got {kind}.",
                          kind=f"shape {tuple(got.shape)}" if torch.is_tensor(got) else type(got).__name__))
        margin = (pc - rc) - (pr - rr)
        if math.isclose(value, _dpo(pc, pr, rc, rr, beta).item(), rel_tol=1e-5, abs_tol=1e-7):
            continue
        if math.isclose(value, -F.logsigmoid(beta * (pc - pr)).mean().item(), rel_tol=1e-5):
            return hint(_("the reference model is missing: DPO compares how far each answer's log-probability moved "
                          "away from the reference's."),
                        _("each answer's term is log π(y|x) - log π_ref(y|x)."))
        if math.isclose(value, -F.logsigmoid(margin).mean().item(), rel_tol=1e-5):
            return hint(_("beta is missing: it scales the margin before the sigmoid."))
        if math.isclose(value, -F.logsigmoid(-beta * margin).mean().item(), rel_tol=1e-5):
            return hint(_("the sign is reversed: the loss must fall when the chosen answer gains on the rejected "
                          "one."),
                        _("the margin is (chosen's change) - (rejected's change), inside -log σ(β · margin)."),
                        _("margin = (pi_chosen - ref_chosen) - (__ - __)"))
        if math.isclose(value, F.logsigmoid(beta * margin).mean().item(), rel_tol=1e-5):
            return hint(_("a loss is minimised: it is minus the log of the sigmoid."))
        if math.isclose(value, -F.logsigmoid(beta * margin).sum().item(), rel_tol=1e-5):
            return hint(_("that is the sum over the pairs: take the mean."))
        return hint(_("not yet the DPO loss."),
                    _("the margin (π_c - ref_c) - (π_r - ref_r), then -log σ(β · margin), averaged over the pairs."),
                    _("margin = (pi_chosen - __) - (pi_rejected - __)"))
    return correct(_("at the start the policy is the reference, every margin is 0 and the loss is log 2 ≈ 0.693."))


@checker
def kl(fn):
    """kl(p_logits, q_logits) -> (N,): KL(p || q) = Σ_v p(v) (log p(v) - log q(v)) for each row of logits (N, V)."""
    for _i in range(2):
        N, V = integer(2, 6), integer(4, 15)
        p_logits, q_logits = (2 * torch.randn(N, V, generator=rng()) for _j in range(2))
        with forbid(fn, *_LIBRARY, "torch.nn.functional.kl_div", ops=("kl_div",)):
            got, err = attempt(fn, p_logits.clone(), q_logits.clone())
        if err is not None:
            return err
        logp, logq = p_logits.log_softmax(-1), q_logits.log_softmax(-1)
        want = (logp.exp() * (logp - logq)).sum(-1)
        if not torch.is_tensor(got) or got.shape != want.shape:
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            return hint(_("expected one number per row, shape {want}; got {got}.", want=tuple(want.shape), got=shape))
        if close(got, want):
            continue
        if close(got, (logq.exp() * (logq - logp)).sum(-1)):
            return hint(_("that is KL(q || p): the divergence is not symmetric. Weight by p, the model being "
                          "trained."), _("Σ_v p(v) · (log p(v) - log q(v))."))
        if close(got, (p_logits.softmax(-1) * (p_logits - q_logits)).sum(-1)):
            return hint(_("logits are not log-probabilities: normalise them first (log-softmax)."))
        return hint(_("not yet KL(p || q)."),
                    _("turn both into log-probabilities, then sum p · (log p - log q) over the vocabulary."),
                    _("(logp.exp() * (__ - __)).sum(-1)"))
    return correct(_("0 only when the two distributions are equal, and positive otherwise."))


# --- the experiment: a learning rate for fine-tuning ---------------------------------------------------------

LR_STEPS = 30       # SFT steps of 16 speaker examples each, from the shipped pre-trained GPT
LR_TARGET = 0.3     # nats per answer token on 64 validation prompts (above 4 before fine-tuning, 1e-3: 0.50)


@functools.lru_cache(maxsize=1)
def _lr_setup():
    from ...chat import grow_vocab, load_instructions, sft_example
    from ...checkpoint import load_model
    from ...data import ChatTokenizer
    from ...files import course_dir

    base, char_tok = load_model(course_dir("data") / "pretrained/gpt-shakespeare-3x160.ckpt", "cpu")
    tok = ChatTokenizer(char_tok)
    train, valid = ([sft_example(tok, e["prompt"], e["answer"]) for e in load_instructions(s)
                     if e["task"] == "speaker"] for s in ("train", "valid"))
    return base, tok, train, valid[:64], grow_vocab


@functools.lru_cache(maxsize=32)
def sft_loss_after(learning_rate: float) -> float:
    """The validation loss per answer token after LR_STEPS steps of SFT at this peak learning rate."""
    from ...chat import answer_loss, sft
    from ...progress import Reporter
    from ...train import TrainConfig

    base, tok, train, valid, grow_vocab = _lr_setup()
    model = grow_vocab(base, tok.vocab_size)
    cfg = TrainConfig(max_iters=LR_STEPS, batch_size=16, learning_rate=learning_rate, min_lr=learning_rate / 10,
                      warmup_iters=3, log_interval=LR_STEPS, dtype="float32")
    with torch.random.fork_rng():
        sft(model, train, cfg, tok.end_id, report=Reporter())
    loss = answer_loss(model, valid, tok.end_id)
    return loss if math.isfinite(loss) else math.inf


@checker
def sft_learning_rate(settings):
    """Experiment: settings = dict(learning_rate=...); LR_STEPS steps of SFT on the speaker task at that peak rate
    must bring the validation loss per answer token to at most LR_TARGET."""
    if unanswered(settings):
        return placeholder()
    if not isinstance(settings, dict) or set(settings) != {"learning_rate"}:
        return hint(_("give a dict with one key: dict(learning_rate=1e-5), say."))
    lr = number(settings["learning_rate"])
    if lr is None or not 0 < lr <= 1:
        return hint(_("the learning rate must be a number above 0 and at most 1."))
    loss = sft_loss_after(lr)
    if loss <= LR_TARGET:
        return correct(_("learning rate {lr:g}: {loss:.3f} nats per answer token after {steps} steps. Too small a "
                         "rate learns little in so few steps; too large a one wrecks what pre-training learnt.",
                         lr=lr, loss=loss, steps=LR_STEPS))
    return hint(_("learning rate {lr:g}: {loss:.3f} nats per answer token after {steps} steps, not yet {target}. "
                  "Try rates a factor of ten apart.", lr=lr, loss=loss, steps=LR_STEPS, target=LR_TARGET),
                _("learning rate {lr:g}: {loss:.3f}. Is the loss still high because the steps are too small, or "
                  "because they are so large that they undo pre-training? Compare with a rate ten times larger and "
                  "ten times smaller.", lr=lr, loss=loss))
