"""Checkers for notebook 07 (a Transformer language model)."""

import torch

from . import attempt, checker, close, correct, forbid, hint, seeded
from ...generate import next_token_probs
from ...models import GPT, Block, GPTConfig, num_params


@checker
def gpt_params(fn):
    """gpt_params(vocab_size, block_size, n_layer, n_embd) = the parameter count of GPT (no biases)."""
    for V, T, L, C in [(65, 64, 2, 64), (100, 32, 3, 48), (6521, 128, 6, 384)]:
        with seeded(0):
            want = num_params(GPT(GPTConfig(V, block_size=T, n_layer=L, n_head=1, n_embd=C)))
        with forbid(fn, "lmutils.models.num_params", "lmutils.models.GPT", "lmutils.models.Block"):
            got, err = attempt(fn, V, T, L, C)
        if err is not None:
            return err
        if not isinstance(got, (int, float)) and not (torch.is_tensor(got) and got.numel() == 1):
            return hint(f"gpt_params should return a number, got {type(got).__name__}.")
        got = int(got)
        if got == want:
            continue
        if got == want + V * C:
            return hint("you count one matrix too many: look at how the output layer gets its weights.",
                        "the output layer has no weights of its own: it shares them with tok_emb (weight tying).")
        if got == want - T * C:
            return hint("you left out the position embeddings (block_size × n_embd).")
        if got in (want - L * 2 * C - C, want - L * 2 * C, want - C):
            return hint("check the layer norms: how many are there, and what does each hold?",
                        "count the layer norms: two per block and one final one, each with a gain of n_embd numbers.")
        if got > want and (got - want) % C == 0 and got - want < L * 16 * C + C * 4:
            return hint("GPTConfig(bias=False) has no biases: count only weight matrices, embeddings and norm gains.")
        return hint(f"for vocab_size={V}, block_size={T}, n_layer={L}, n_embd={C} you count {got:,}; not right. "
                    "List the model's parts (print a small GPT) and count each.",
                    f"for vocab_size={V}, block_size={T}, n_layer={L}, n_embd={C} you count {got:,}; not right. "
                    "A block holds 4·n_embd² weights in attention, 8·n_embd² in the MLP, and two layer norms.",
                    "V·C + T·C (embeddings) + n_layer·(12·C² + 2·C) (blocks) + C (final norm); the head is tied.")
    return correct("for a GPT, attention + MLP weights are 12·n_layer·n_embd²: the number people quote.")


def _block():
    with seeded(7):
        b = Block(GPTConfig(vocab_size=11, block_size=8, n_head=2, n_embd=16)).eval()
    with torch.no_grad():  # non-trivial norm gains, so that every part of the block counts
        b.ln1.weight.uniform_(0.5, 1.5)
        b.ln2.weight.uniform_(0.5, 1.5)
    return b


@checker
def block_forward(fn):
    """block_forward(b, x) = pre-norm block: x + attn(ln1(x)), then + mlp(ln2(·))."""
    b = _block()
    x = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(7)) * 2 + 1
    with torch.no_grad():
        with forbid(fn, "lmutils.models.Block.forward"):
            got, err = attempt(fn, b, x.clone())
        if err is not None:
            return err
        if not torch.is_tensor(got):
            return hint(f"block_forward should return a tensor, got {type(got).__name__}.")
        if got.shape != x.shape:
            return hint(f"a block keeps the shape of its input {tuple(x.shape)}; yours gives {tuple(got.shape)}.")
        if close(got, b(x), 1e-4):
            return correct()
        h = x + b.attn(b.ln1(x))
        if close(got, h + b.mlp(b.ln1(h)), 1e-4):
            return hint("the MLP has its own layer norm, b.ln2.")
        post = b.ln1(x + b.attn(x))
        if close(got, b.ln2(post + b.mlp(post)), 1e-4):
            return hint("that is post-norm (norm after the addition, as the seed's model): where does pre-norm "
                        "put the norms?",
                        "that is post-norm (norm after the addition, as the seed's model); pre-norm normalises "
                        "the input of attention and MLP only, the residual stream itself is never normalised.")
        a = b.attn(b.ln1(x))
        if any(close(got, y, 1e-4) for y in (b.mlp(b.ln2(a)), a + b.mlp(b.ln2(a)), b.mlp(b.ln2(h)))):
            return hint("keep the residual connections: each part adds its output to x.")
    return hint("follow the block's two equations in order: attention first, then the MLP, each with its norm.",
                "compute x + attention(ln1(x)) first, then add mlp(ln2(·)) of that result.",
                "x = x + b.attn(b.ln1(x)); return x + b.mlp(b.ln2(x)).")


def _probs_checker(fn, name, setting, values, wrong_hints):
    g = torch.Generator().manual_seed(8)
    logits = torch.randn(20, generator=g) * 2
    for value in values:
        with forbid(fn, "lmutils.generate.next_token_probs"):
            got, err = attempt(fn, logits.clone(), value)
        if err is not None:
            return err
        if not torch.is_tensor(got) or got.shape != logits.shape:
            return hint(f"{name} should return a tensor of probabilities with the shape of the logits (20,).")
        want = next_token_probs(logits, **{setting: value})
        if close(got, want, 1e-5):
            continue
        kept, want_kept = int((got > 0).sum()), int((want > 0).sum())
        if not close(got.sum(), 1.0, 1e-4):
            return hint("the probabilities must sum to 1.",
                        "the probabilities must sum to 1: set the dropped logits to -inf, then take the softmax "
                        "(or divide by the sum of the kept probabilities).")
        if torch.equal(got > 0, want > 0):
            return hint("you keep the right tokens but their probabilities are off: a softmax of the kept logits.")
        return hint(*wrong_hints(value, kept, want_kept))
    return correct()


@checker
def top_k(fn):
    """top_k_probs(logits, k) = next_token_probs(logits, top_k=k)."""
    def wrong(k, kept, want):
        recipe = ("kth = torch.topk(logits, k).values[-1]; logits.masked_fill(logits < kth, float('-inf'))"
                  ".softmax(-1).")
        if kept == k:
            return f"with k = {k} you keep {k} tokens, but not the right ones: keep the LARGEST logits.", recipe
        return f"with k = {k} you keep {kept} tokens; keep exactly the {k} largest.", recipe
    return _probs_checker(fn, "top_k_probs", "top_k", [3, 1, 7, 20], wrong)


@checker
def top_p(fn):
    """top_p_probs(logits, p) = next_token_probs(logits, top_p=p)."""
    def wrong(p, kept, want):
        recipe = ("sort the probabilities (descending); keep a token while the probability of the more likely "
                  "tokens before it, cumsum − itself, is still below p; zero the others, put them back in their "
                  "order (scatter) and renormalise.")
        if kept == want - 1:
            return (f"with p = {p} you keep one token too few: keep the token whose probability makes the sum "
                    "cross p.", recipe)
        if kept == want + 1:
            return f"with p = {p} you keep one token too many: stop as soon as the kept probabilities reach p.", recipe
        return (f"with p = {p} you keep {kept} tokens, the nucleus has {want}.",
                f"with p = {p} you keep {kept} tokens, the nucleus has {want}: sort by probability, keep the most "
                "likely ones until their sum reaches p.", recipe)
    return _probs_checker(fn, "top_p_probs", "top_p", [0.5, 0.9, 0.05, 1.0], wrong)
