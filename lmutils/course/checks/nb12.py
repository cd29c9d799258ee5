"""Checkers for notebook 12 (from a language model to an assistant). Hints go a nudge, then a pointer, then a
partial line with blanks; never the whole code."""

import math

import torch
import torch.nn.functional as F

from . import attempt, checker, close, correct, forbid, hint

IGNORE = -100
_LIBRARY = ("lmutils.chat.scored", "lmutils.chat.sft_example", "lmutils.chat.sequence_logprob",
            "lmutils.chat.dpo_loss", "lmutils.chat.kl_divergence")


def _masked(ids, n_prompt):
    return ids[:-1], [IGNORE] * (n_prompt - 1) + ids[n_prompt:]


@checker
def mask_prompt(fn):
    """mask_prompt(ids, n_prompt) -> (inputs, targets): inputs ids[:-1], targets ids[1:] with IGNORE wherever the
    target is still a prompt token (the first n_prompt ids are the prompt, up to and including <|assistant|>)."""
    g = torch.Generator().manual_seed(12)
    for length, n_prompt in ((9, 4), (14, 10), (6, 5), (20, 3)):
        ids = torch.randint(0, 60, (length,), generator=g).tolist()
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, list(ids), n_prompt)
        if err is not None:
            return err
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return hint("return two lists: (inputs, targets).")
        x, y = (list(v.tolist() if torch.is_tensor(v) else v) for v in got)
        want_x, want_y = _masked(ids, n_prompt)
        if (x, y) == (want_x, want_y):
            continue
        if x == ids or len(y) == len(ids):
            return hint("the inputs and targets are the sequence shifted against each other: one token shorter "
                        "than ids.", "inputs are ids[:-1] (every token but the last), targets ids[1:].")
        if y == ids[1:]:
            return hint("nothing is masked yet: targets that are prompt tokens must carry no loss.",
                        "put IGNORE (-100, cross-entropy's ignore_index) where the target is a prompt token.")
        if 0 in y and IGNORE not in y:
            return hint("0 is a real token id: a masked target must be one cross-entropy skips.",
                        "F.cross_entropy skips targets equal to its ignore_index, -100 by default.")
        if y == [IGNORE] * n_prompt + ids[n_prompt + 1:]:
            return hint("one target too many is masked: the first answer token must be predicted too.",
                        "targets[i] is ids[i + 1]: which targets are prompt tokens, ids[1] ... ids[n_prompt - 1]?",
                        "targets = [IGNORE] * (n_prompt - _) + ids[n_prompt:]")
        if y == [IGNORE] * (n_prompt - 2) + ids[n_prompt - 1:]:
            return hint("one prompt target is still scored: <|assistant|> is part of the prompt, the model never has "
                        "to write it.", "targets[i] is ids[i + 1]: the prompt's targets are ids[1] ... "
                        "ids[n_prompt - 1].", "targets = [IGNORE] * (n_prompt - _) + ids[n_prompt:]")
        return hint(f"for ids of length {length} with a prompt of {n_prompt}, expected targets {want_y}, got {y}.",
                    "the targets are ids shifted by one; the first n_prompt - 1 of them are prompt tokens.",
                    "targets = [IGNORE] * (n_prompt - _) + ids[____:]")
    return correct("only the answer (and its end marker) carries loss: the model is never trained to write prompts.")


def _logits_case(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 6, 7, generator=g)
    targets = torch.randint(0, 7, (3, 6), generator=g)
    targets[0, :2] = IGNORE
    targets[1, :4] = IGNORE
    targets[2, 5] = IGNORE
    return logits, targets


def _seq_logprob(logits, targets):
    logp = F.log_softmax(logits.double(), -1)
    keep = targets != IGNORE
    return (logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0] * keep).sum(-1)


@checker
def sequence_logprob(fn):
    """sequence_logprob(logits, targets) -> (N,): log π(answer | prompt) of each row, the sum of log-softmax(logits)
    at the targets, over the targets that are not IGNORE."""
    for seed in (0, 1):
        logits, targets = _logits_case(seed)
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, logits.clone(), targets.clone())
        if err is not None:
            if "out of bounds" in err.message or "index" in err.message:
                return hint("the masked targets (-100) are no token ids: leave them out (or clamp them) before "
                            "looking up their log-probabilities.", "gather at targets.clamp(min=0), then multiply by "
                            "(targets != -100).")
            return err
        want = _seq_logprob(logits, targets)
        if not torch.is_tensor(got) or got.shape != want.shape:
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            return hint(f"expected one number per row, shape {tuple(want.shape)}; got {shape}.")
        if close(got, want):
            continue
        keep = targets != IGNORE
        picked = logits.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
        if close(got, (picked * keep).sum(-1)):
            return hint("those are raw logits: turn them into log-probabilities first.",
                        "log-probabilities: logits.log_softmax(-1), then pick each target's.")
        if close(got, want / keep.sum(-1)):
            return hint("that is a mean per token: DPO compares whole answers, so sum over the answer's tokens.")
        if close(got, (F.log_softmax(logits, -1).gather(-1, targets.clamp(min=0)[..., None])[..., 0]).sum(-1)):
            return hint("the masked positions (-100) are counted too: only the answer's tokens count.",
                        "multiply by the mask (targets != -100) before summing.")
        return hint("not yet the sum of the answer tokens' log-probabilities.",
                    "log_softmax, then gather the target of each position, then keep the scored positions and sum.",
                    "logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0] * (targets != ____) summed over dim ____")
    return correct("log π(y | x) of a whole answer: what DPO and the KL penalty are written in.")


def _dpo(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


@checker
def dpo_loss(fn):
    """dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta) -> the mean DPO loss (a 0-d tensor)."""
    g = torch.Generator().manual_seed(7)
    for beta in (0.1, 0.5, 2.0):
        pc, pr, rc, rr = (-5 * torch.rand(5, generator=g, dtype=torch.float64) for _ in range(4))
        with forbid(fn, *_LIBRARY):
            got, err = attempt(fn, pc.clone(), pr.clone(), rc.clone(), rr.clone(), beta)
        if err is not None:
            return err
        try:
            value = float(got)
        except (TypeError, ValueError, RuntimeError):
            return hint(f"return one number (the mean over the pairs), got {type(got).__name__}"
                        + (f" of shape {tuple(got.shape)}" if torch.is_tensor(got) else "") + ".")
        want = _dpo(pc, pr, rc, rr, beta).item()
        if math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-7):
            continue
        if math.isclose(value, -F.logsigmoid(beta * (pc - pr)).mean().item(), rel_tol=1e-5):
            return hint("the reference model is missing: DPO compares how much each answer's log-probability moved "
                        "away from the reference's.", "each answer's term is log π(y|x) - log π_ref(y|x).")
        if math.isclose(value, -F.logsigmoid((pc - rc) - (pr - rr)).mean().item(), rel_tol=1e-5):
            return hint("beta is missing: it scales the margin before the sigmoid.")
        if math.isclose(value, -F.logsigmoid(-beta * ((pc - rc) - (pr - rr))).mean().item(), rel_tol=1e-5):
            return hint("the sign is reversed: the loss must fall when the chosen answer gains on the rejected one.",
                        "the margin is (chosen's change) - (rejected's change), inside -log σ(β · margin).")
        if math.isclose(value, F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean().item(), rel_tol=1e-5):
            return hint("a loss is minimised: it is minus the log of the sigmoid.")
        if math.isclose(value, _dpo(pc, pr, rc, rr, beta).item() * 5, rel_tol=1e-5):
            return hint("that is the sum over the pairs: take the mean.")
        return hint("not yet the DPO loss.",
                    "compute the margin (π_c - ref_c) - (π_r - ref_r), then -log σ(β · margin), averaged over pairs.",
                    "-F.logsigmoid(____ * ((pi_chosen - ____) - (pi_rejected - ____))).mean()")
    return correct("at the start the policy is the reference, every margin is 0 and the loss is log 2 ≈ 0.693.")


@checker
def kl(fn):
    """kl(p_logits, q_logits) -> (N,): KL(p || q) = Σ_v p(v) (log p(v) - log q(v)) for each row of logits (N, V)."""
    g = torch.Generator().manual_seed(3)
    for V in (5, 11):
        p_logits, q_logits = torch.randn(4, V, generator=g), torch.randn(4, V, generator=g)
        with forbid(fn, *_LIBRARY, "torch.nn.functional.kl_div"):
            got, err = attempt(fn, p_logits.clone(), q_logits.clone())
        if err is not None:
            return err
        logp, logq = p_logits.log_softmax(-1), q_logits.log_softmax(-1)
        want = (logp.exp() * (logp - logq)).sum(-1)
        if not torch.is_tensor(got) or got.shape != want.shape:
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            return hint(f"expected one number per row, shape {tuple(want.shape)}; got {shape}.")
        if close(got, want):
            continue
        if close(got, (logq.exp() * (logq - logp)).sum(-1)):
            return hint("that is KL(q || p): the divergence is not symmetric. Weight by p, the model being trained.",
                        "Σ_v p(v) · (log p(v) - log q(v)).")
        if close(got, (p_logits.softmax(-1) * (p_logits - q_logits)).sum(-1)):
            return hint("logits are not log-probabilities: normalise them first (log_softmax).")
        return hint("not yet KL(p || q).", "turn both into log-probabilities, then sum p · (log p - log q) over the "
                    "vocabulary.", "(logp.exp() * (logp - ____)).sum(____)")
    return correct("0 only when the two distributions are equal, and positive otherwise.")
