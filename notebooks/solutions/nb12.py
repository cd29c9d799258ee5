"""Solutions to notebook 12's exercises (from a language model to an assistant)."""

import torch.nn.functional as F

IGNORE = -100


def mask_prompt(ids, n_prompt):
    return ids[:-1], [IGNORE] * (n_prompt - 1) + ids[n_prompt:]


def sequence_logprob(logits, targets):
    logp = logits.log_softmax(-1)
    picked = logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
    return (picked * (targets != IGNORE)).sum(-1)


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    return -F.logsigmoid(beta * ((pi_chosen - ref_chosen) - (pi_rejected - ref_rejected))).mean()


def kl(p_logits, q_logits):
    logp, logq = p_logits.log_softmax(-1), q_logits.log_softmax(-1)
    return (logp.exp() * (logp - logq)).sum(-1)


# 30 steps from the pre-trained GPT: 1e-5 and 1e-4 learn too slowly (4.2 and 1.7 nats per answer token), 1e-3 gets
# to 0.50, 3e-3 to 0.15 and 1e-2 to 0.14; 1e-1 wrecks the model (2.3)
sft_learning_rate = dict(learning_rate=3e-3)


# --- typical wrong answers, each with (part of) the hint it must get ------------------------------------

def _mask_unshifted(ids, n_prompt):
    return ids, [IGNORE] * n_prompt + ids[n_prompt:]


def _mask_nothing(ids, n_prompt):
    return ids[:-1], ids[1:]


def _mask_with_zero(ids, n_prompt):
    return ids[:-1], [0] * (n_prompt - 1) + ids[n_prompt:]


def _mask_one_too_many(ids, n_prompt):
    return ids[:-1], [IGNORE] * n_prompt + ids[n_prompt + 1:]


def _mask_one_too_few(ids, n_prompt):
    return ids[:-1], [IGNORE] * (n_prompt - 2) + ids[n_prompt - 1:]


def _logprob_of_logits(logits, targets):
    return (logits.gather(-1, targets.clamp(min=0)[..., None])[..., 0] * (targets != IGNORE)).sum(-1)


def _logprob_mean(logits, targets):
    return sequence_logprob(logits, targets) / (targets != IGNORE).sum(-1)


def _logprob_unmasked(logits, targets):
    return logits.log_softmax(-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0].sum(-1)


def _logprob_crashes_on_ignore(logits, targets):
    return logits.log_softmax(-1).gather(-1, targets[..., None])[..., 0].sum(-1)


def _dpo_no_reference(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * (pc - pr)).mean()


def _dpo_no_beta(pc, pr, rc, rr, beta):
    return -F.logsigmoid((pc - rc) - (pr - rr)).mean()


def _dpo_reversed(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * ((pr - rr) - (pc - rc))).mean()


def _dpo_sum(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).sum()


def _kl_reversed(p_logits, q_logits):
    return kl(q_logits, p_logits)


def _kl_of_logits(p_logits, q_logits):
    return (p_logits.softmax(-1) * (p_logits - q_logits)).sum(-1)


def _kl_wrong(p_logits, q_logits):
    return (p_logits.softmax(-1) - q_logits.softmax(-1)).abs().sum(-1)


SOLUTIONS = {"mask_prompt": mask_prompt, "sequence_logprob": sequence_logprob, "dpo_loss": dpo_loss, "kl": kl,
             "sft_learning_rate": sft_learning_rate}
WRONG = {
    "mask_prompt": [(_mask_unshifted, "shifted against each other"),
                    (_mask_nothing, "nothing is masked"),
                    (_mask_with_zero, "0 is a real token id"),
                    (_mask_one_too_many, "one target too many", "[IGNORE] * (n_prompt - __)"),
                    (_mask_one_too_few, "still scored", "[IGNORE] * (n_prompt - __)")],
    "sequence_logprob": [(_logprob_of_logits, "raw logits"),
                         (_logprob_mean, "mean per token"),
                         (_logprob_unmasked, "masked positions (-100) are counted"),
                         (_logprob_crashes_on_ignore, "no token ids", "clamp(min=__)")],
    "dpo_loss": [(_dpo_no_reference, "reference model is missing"),
                 (_dpo_no_beta, "beta is missing"),
                 (_dpo_reversed, "sign is reversed", "(__ - __)"),
                 (_dpo_sum, "take the mean")],
    "kl": [(_kl_reversed, "KL(q || p)"),
           (_kl_of_logits, "not log-probabilities"),
           (_kl_wrong, "not yet KL(p || q)", "(logp.exp() * (__ - __))")],
    "sft_learning_rate": [(dict(learning_rate=1e-5), "not yet 0.3"), (dict(learning_rate=0.1), "not yet 0.3"),
                          (dict(lr=1e-3), "one key")],
}
