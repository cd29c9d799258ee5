"""Checkers for notebook 07 (a Transformer language model)."""

import functools

import torch

from ...checkpoint import load_model
from ...data import encode_corpus
from ...files import course_dir
from ...generate import next_token_probs
from ...models import GPT, Block, GPTConfig, num_params
from ...train import evaluate
from ..i18n import _
from . import BUILD, attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, seeded, \
    shape_of, unanswered, uniform
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")


@checker
def gpt_params(fn):
    """gpt_params(vocab_size, block_size, n_layer, n_embd, bias) = the parameter count of GPT(GPTConfig(...))."""
    cases = [(integer(10, 500), integer(8, 256), integer(1, 4), 8 * integer(1, 12), bias) for bias in (False, True)]
    cases.append((integer(10, 500), integer(8, 256), integer(1, 4), 8 * integer(1, 12), False))
    for V, T, L, C, bias in cases:
        with seeded(0):
            want = num_params(GPT(GPTConfig(V, block_size=T, n_layer=L, n_head=1, n_embd=C, bias=bias)))
        with forbid(fn, BUILD, message=_("don't build a model here: count its parameters from the shapes.")), \
                forbid(fn, "lmutils.models.num_params"):
            got, err = attempt(fn, V, T, L, C, bias)
        if err is not None:
            return err
        count = number(got)
        if count is None:
            return hint(_("gpt_params should return a number, got {kind}.", kind=type(got).__name__))
        if count == want:
            continue
        where = _("for vocab_size={V}, block_size={T}, n_layer={L}, n_embd={C}, bias={bias}", V=V, T=T, L=L, C=C,
                  bias=bias)
        if count == want + V * C:
            return hint(_("{where} you count one matrix too many: look at how the output layer gets its weights.",
                          where=where),
                        _("the output layer has no weights of its own: it shares them with tok_emb (weight tying)."))
        if count == want - T * C:
            return hint(_("{where} you left out the position embeddings (block_size × n_embd).", where=where))
        if count in (want - L * 2 * C - C, want - L * 2 * C, want - C):
            return hint(_("{where}: check the layer norms: how many are there, and what does each hold?",
                          where=where),
                        _("count the layer norms: two per block and one final one, each with a gain of n_embd "
                          "numbers."))
        if bias and count == want - L * 9 * C:
            return hint(_("{where}: with bias=True every Linear layer of the blocks has a bias vector (its output's "
                          "size), the output layer excepted.", where=where))
        if bias and count in (want - L * 11 * C - C, want - L * 11 * C):
            return hint(_("{where} you count no biases at all: with bias=True the Linear layers and the layer norms "
                          "have them.", where=where))
        return hint(_("{where} you count {got:,}; not right. List the model's parts (print a small GPT) and count "
                      "each.", where=where, got=int(count)),
                    _("{where} you count {got:,}. A block holds 4·n_embd² weights in attention, 8·n_embd² in the "
                      "MLP, two layer norms, and with bias=True a bias for each Linear layer.", where=where,
                      got=int(count)),
                    _("V·C + T·C + n_layer·(12·C² + __·C + (__·C if bias)) + C·(__ if bias else 1)"))
    return correct(_("attention and MLP weights are 12·n_layer·n_embd²: the number people quote for a GPT's size."))


def _block(C, n_head):
    with seeded(integer(0, 1000)):
        b = Block(GPTConfig(vocab_size=11, block_size=16, n_head=n_head, n_embd=C)).eval()
    with torch.no_grad():  # non-trivial norm gains, so that every part of the block counts
        b.ln1.weight.uniform_(0.5, 1.5, generator=rng())
        b.ln2.weight.uniform_(0.5, 1.5, generator=rng())
    return b


@checker
def post_norm_block(fn):
    """post_norm_block(b, x): the block's four parts in the post-norm order of the seed's TransformerModel
    (nn.TransformerEncoderLayer): x = ln1(x + attn(x)), then ln2(x + mlp(x))."""
    for n_head, d in [(integer(1, 4), 4 * integer(1, 3)) for _i in range(2)]:
        C = n_head * d
        b = _block(C, n_head)
        x = torch.randn(integer(1, 3), integer(2, 8), C, generator=rng()) * 2 + 1
        with torch.no_grad():
            with forbid(fn, "lmutils.models.Block.forward", "torch.nn.TransformerEncoderLayer.forward",
                        ops=("transformer_encoder_layer",), notebook=("MyBlock",)):
                got, err = attempt(fn, b, x.clone())
            if err is not None:
                return err
            if not torch.is_tensor(got) or got.shape != x.shape:
                return hint(_("a block keeps the shape of its input {want}; yours gives {got}.",
                              want=tuple(x.shape), got=shape_of(got)))
            h = b.ln1(x + b.attn(x))
            want = b.ln2(h + b.mlp(h))
            if close(got, want, 1e-4):
                continue
            if close(got, b(x), 1e-4):
                return hint(_("that is the pre-norm block of GPT (this notebook's): post-norm puts each norm after "
                              "its addition."),
                            _("post-norm: the residual stream itself is normalised after each part, x = LN(x + f(x)); "
                              "the parts see the stream as it is."))
            h2 = b.ln2(x + b.attn(x))
            if close(got, b.ln1(h2 + b.mlp(h2)), 1e-4):
                return hint(_("the norms are swapped: b.ln1 belongs to the attention part, b.ln2 to the MLP."))
            if close(got, b.ln2(b.mlp(b.ln1(b.attn(x)))), 1e-4) or close(got, b.ln2(b.mlp(b.ln1(x + b.attn(x)))), 1e-4):
                return hint(_("keep the residual connections: each part's output is added to its input before the "
                              "norm."))
        return hint(_("follow the two equations in order: attention first, then the MLP; each adds its output to "
                      "its input, then normalises."),
                    _("first x = ln1(x + attn(x)), then the same with the MLP and ln2 on that result."),
                    _("x = b.ln1(x + __); return b.ln2(__ + b.mlp(__))"))
    return correct(_("the seed's post-norm order: the stream itself is normalised, which is why deep post-norm "
                     "stacks need a warm-up to train at all."))


SAMPLING = ("lmutils.generate.next_token_probs", "lmutils.generate.generate", "lmutils.generate.sample_text",
            "lmutils.kvcache.generate_cached")


def _probs_checker(fn, name, setting, values, wrong_hints):
    for value in values:
        B, V = integer(1, 4), integer(5, 30)
        logits = torch.randn(B, V, generator=rng()) * uniform(0.5, 3)
        v = value(V) if callable(value) else value
        with forbid(fn, *SAMPLING):
            got, err = attempt(fn, logits.clone(), v)
        if err is not None:
            return err
        if not torch.is_tensor(got) or got.shape != logits.shape:
            return hint(_("{name} should return a tensor of probabilities with the shape of the logits, {shape} here "
                          "(one row per sequence); got {got}.", name=name, shape=tuple(logits.shape),
                          got=shape_of(got)))
        want = next_token_probs(logits, **{setting: v})
        if close(got, want, 1e-5):
            continue
        if not close(got.sum(-1), torch.ones(B), 1e-4):
            return hint(_("each row of probabilities must sum to 1; yours sum to {sums}.",
                          sums=", ".join(f"{s:.3f}" for s in got.sum(-1).tolist())),
                        _("each row must sum to 1: set the dropped logits to −∞, then take the softmax (or divide "
                          "by the sum of the kept probabilities)."))
        kept, want_kept = (got > 0).sum(-1), (want > 0).sum(-1)
        if torch.equal(got > 0, want > 0):
            return hint(_("you keep the right tokens but their probabilities are off: a softmax of the kept logits."))
        row = int((kept != want_kept).nonzero()[0, 0]) if (kept != want_kept).any() else 0
        return hint(*wrong_hints(v, int(kept[row]), int(want_kept[row]), B))
    return correct()


@checker
def top_k(fn):
    """top_k_probs(logits, k): for logits (B, V), the softmax of each row after keeping its k largest logits."""
    def wrong(k, kept, want, B):
        partial = _("kth = torch.topk(logits, k, dim=__).values[..., -1:]; logits.masked_fill(logits < __, "
                    "float(\"-inf\")).softmax(-1)")
        if kept == k:
            return (_("with k = {k} you keep {k} tokens, but not the right ones: keep the LARGEST logits of each "
                      "row.", k=k), partial)
        return (_("with k = {k} you keep {kept} tokens in a row; keep exactly the {k} largest of each row (of the "
                  "{B} rows).", k=k, kept=kept, B=B),
                _("work on the last axis: the k-th largest logit of each row is the threshold for that row."), partial)
    return _probs_checker(fn, "top_k_probs", "top_k", [lambda V: integer(2, V - 1), 1, lambda V: integer(2, V - 1),
                                                       lambda V: V], wrong)


@checker
def top_p(fn):
    """top_p_probs(logits, p): for logits (B, V), keep in each row the smallest set of most likely tokens whose
    probabilities add up to at least p, renormalised."""
    def wrong(p, kept, want, B):
        partial = _("probs, order = logits.softmax(-1).sort(dim=-1, descending=__); before = probs.cumsum(-1) - "
                    "__; then zero where before >= p and put the rows back in their order (scatter)")
        if kept == want - 1:
            return (_("with p = {p:.3g} you keep one token too few: keep the token whose probability makes the sum "
                      "cross p.", p=p), partial)
        if kept == want + 1:
            return (_("with p = {p:.3g} you keep one token too many: stop as soon as the kept probabilities reach p.",
                      p=p), partial)
        return (_("with p = {p:.3g} you keep {kept} tokens in a row, its nucleus has {want}.", p=p, kept=kept,
                  want=want),
                _("with p = {p:.3g}: sort each row by probability, keep the most likely tokens until their sum "
                  "reaches p (that last token included).", p=p), partial)
    return _probs_checker(fn, "top_p_probs", "top_p", [lambda V: uniform(0.3, 0.95), lambda V: uniform(0.3, 0.95),
                                                       0.01, 1.0], wrong)


@functools.lru_cache(maxsize=1)
def _pretrained():
    model, _tok = load_model(course_dir("data") / "pretrained" / "gpt-shakespeare-3x160.ckpt", "cpu")
    _t, _train, val_ids = encode_corpus("shakespeare")
    return model.eval(), val_ids[:20_000]


@functools.cache
def window_loss(context: int) -> float:
    """The loss per character of the pre-trained 3 × 160 GPT on the first 20,000 validation characters, read in
    windows of `context` characters (evaluate: every character scored once, each window from scratch)."""
    model, val_ids = _pretrained()
    return evaluate(model, val_ids, context)


@checker
def context_length(context):
    """Experiment: the shortest window (in characters) with which the pre-trained GPT's loss is within 0.05 nats of
    its loss with its whole context of 128, to within a factor of 2: the window passes, half of it does not."""
    if unanswered(context):
        return placeholder()
    value = number(context)
    if value is None or value != int(value) or not 1 <= value <= 128:
        return hint(_("give one whole number of characters between 1 and 128."))
    c = int(value)
    full, mine, half = window_loss(128), window_loss(c), window_loss(max(1, c // 2))
    if mine <= full + 0.05 < half:
        return correct(_("windows of {c} characters: {mine:.4f} nats per character, {gap:.3f} above the whole "
                         "context's {full:.4f}; half as long, {half:.4f}. The 5-gram reads 4 characters.", c=c,
                         mine=mine, gap=mine - full, full=full, half=half))
    if mine > full + 0.05:
        return hint(_("with windows of {c} characters the loss is {mine:.4f}, {gap:.3f} above the whole context's "
                      "{full:.4f}: longer.", c=c, mine=mine, gap=mine - full, full=full),
                    _("measure evaluate(model, val_ids[:20_000], block_size) for 8, 16, 32, 64 and 128, then in "
                      "between."))
    return hint(_("with windows of {c} characters the loss is within 0.05 of the whole context's, but half as long "
                  "({h}) is too: look for a shorter window.", c=c, h=max(1, c // 2)),
                _("{c} characters: {mine:.4f}; {h}: {half:.4f}; the whole context: {full:.4f}.", c=c, mine=mine,
                  h=max(1, c // 2), half=half, full=full))
