"""Notebook 12's pieces: the chat template and its tokenizer, masking, SFT, batched answers, DPO, the chat loop, and
the shipped instruction data."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lmutils.chat import (IGNORE, Chat, accuracy, answer_loss, complete, continuation_example, dpo, dpo_loss,
                          few_shot, grow_vocab, halves, kl_divergence, load_instructions, pad_examples, render, scored,
                          sequence_logprob, sft, sft_example, with_replay)
from lmutils.checkpoint import load_model, save_checkpoint
from lmutils.data import CharTokenizer, ChatTokenizer, WordTokenizer, load_corpus
from lmutils.kvcache import KVCache
from lmutils.models import GPT, GPTConfig
from lmutils.progress import Reporter
from lmutils.train import TrainConfig

TEXT = "To be, or not to be: that is the question.\nAy, sir.\nComplete this line:\n"
BASE = CharTokenizer.from_text(TEXT)


def tiny(vocab_size, seed=0, block_size=48):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=32)).eval()


# --- the template's tokenizer --------------------------------------------------------------------------

@settings(deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=sorted(set(TEXT)), max_size=20), st.sampled_from(ChatTokenizer.MARKERS)),
                max_size=8))
def test_the_chat_tokenizer_round_trips_text_and_markers(parts):
    tok = ChatTokenizer(BASE)
    text = "".join(parts)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.encode(tok.decode(ids)) == ids
    markers = [p for p in parts if p in ChatTokenizer.MARKERS]
    assert [i for i in ids if i >= BASE.vocab_size] == [tok.encode(m)[0] for m in markers]


def test_markers_are_new_ids_after_the_vocabulary_and_text_encodes_as_before():
    tok = ChatTokenizer(BASE)
    assert (tok.user_id, tok.assistant_id, tok.end_id) == (BASE.vocab_size, BASE.vocab_size + 1, BASE.vocab_size + 2)
    assert tok.vocab_size == len(tok) == BASE.vocab_size + 3
    assert tok.encode("to be") == BASE.encode("to be")
    assert tok.encode(render("Ay", "sir")) == [tok.user_id, *BASE.encode("Ay"), tok.assistant_id, *BASE.encode("sir"),
                                               tok.end_id]


def test_a_marker_that_could_be_ordinary_text_is_refused():
    with pytest.raises(ValueError, match="could also be ordinary text"):
        ChatTokenizer(BASE, markers=("To", "<|assistant|>", "<|end|>"))
    with pytest.raises(ValueError, match="three different markers"):
        ChatTokenizer(BASE, markers=("<|a|>", "<|a|>", "<|b|>"))
    words = WordTokenizer.from_text("a b", unk="<unk>")
    ChatTokenizer(words)  # "<|user|>" holds tokens a word tokenizer only knows as unknown: no clash


def test_the_chat_tokenizer_survives_a_checkpoint(tmp_path):
    tok = ChatTokenizer(BASE)
    model = tiny(tok.vocab_size)
    save_checkpoint(tmp_path / "chat.ckpt", model, tokenizer=tok)
    loaded, tok2 = load_model(tmp_path / "chat.ckpt")
    assert isinstance(tok2, ChatTokenizer) and tok2.state_dict() == tok.state_dict()
    assert tok2.encode(render("Ay", "sir")) == tok.encode(render("Ay", "sir"))


def test_growing_the_vocabulary_keeps_every_old_logit_and_starts_new_rows_at_the_mean():
    base = tiny(BASE.vocab_size)
    grown = grow_vocab(base, BASE.vocab_size + 3)
    x = torch.tensor([BASE.encode("to be or not")])
    assert torch.equal(grown(x)[..., :BASE.vocab_size], base(x))
    assert grown.head.weight is grown.tok_emb.weight
    old, new = base.tok_emb.weight, grown.tok_emb.weight[BASE.vocab_size:]
    assert torch.allclose(new, old.mean(0).expand_as(new), atol=0.05 * old.std().item())
    assert not torch.equal(new[0], new[1])
    with pytest.raises(ValueError, match="only adds tokens"):
        grow_vocab(base, 3)


# --- masking and SFT ----------------------------------------------------------------------------------

def test_masking_leaves_loss_on_the_answer_and_its_end_marker_only():
    tok = ChatTokenizer(BASE)
    x, y = sft_example(tok, "Ay, sir", "To be")
    n_prompt = len(tok.encode(render("Ay, sir")))
    assert x == tok.encode(render("Ay, sir", "To be"))[:-1]
    assert y[:n_prompt - 1] == [IGNORE] * (n_prompt - 1)
    assert y[n_prompt - 1:] == BASE.encode("To be") + [tok.end_id]
    x_all, y_all = sft_example(tok, "Ay, sir", "To be", mask=False)
    assert x_all == x and y_all == x[1:] + [tok.end_id]
    assert sft_example(tok, "Ay", "To", end=False)[1][-1] == BASE.encode("o")[0]


def test_the_prompts_tokens_carry_no_loss_and_no_gradient():
    tok = ChatTokenizer(BASE)
    model = tiny(tok.vocab_size)
    x, y = (torch.tensor([t]) for t in sft_example(tok, "not to be", "Ay"))
    logits = model(x).detach().requires_grad_()
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # ignore_index=-100 by default
    loss.backward()
    scored = y[0] != IGNORE
    assert scored.sum() == 3  # "A", "y", <|end|>
    assert torch.equal(logits.grad[0, ~scored], torch.zeros_like(logits.grad[0, ~scored]))
    assert (logits.grad[0, scored].abs().sum(-1) > 0).all()
    by_hand = -F.log_softmax(logits[0, scored], -1).gather(1, y[0, scored, None]).mean()
    assert torch.allclose(loss, by_hand)


def test_padding_changes_no_example_s_loss():
    tok = ChatTokenizer(BASE)
    model = tiny(tok.vocab_size)
    short, long = sft_example(tok, "Ay", "sir"), sft_example(tok, "To be, or not to be", "Ay, sir")
    x, y = pad_examples([short, long], tok.end_id)
    assert x.shape == (2, len(long[0])) and (y[0, len(short[1]):] == IGNORE).all()
    alone = answer_loss(model, [short], tok.end_id)
    nll = F.cross_entropy(model(x)[0], y[0], reduction="sum").item() / (y[0] != IGNORE).sum().item()
    assert math.isclose(alone, nll, rel_tol=1e-5)


def _trained_chat_model(end=True, steps=150):
    tok = ChatTokenizer(BASE)
    model = grow_vocab(tiny(BASE.vocab_size), tok.vocab_size)
    pairs = [("to be", "Ay"), ("or not", "sir"), ("the question", "to be")]
    examples = [sft_example(tok, q, a, end=end) for q, a in pairs]
    cfg = TrainConfig(max_iters=steps, batch_size=6, learning_rate=1e-2, warmup_iters=10, log_interval=10,
                      eval_interval=50, dtype="float32")
    log = sft(model, examples, cfg, tok.end_id, val_examples=examples, report=Reporter())
    return model, tok, pairs, log


def test_sft_learns_the_answers_and_the_chat_stops_at_the_end_marker():
    model, tok, pairs, log = _trained_chat_model()
    assert log.eval_val[-1] < 0.1 < log.eval_val[0] and log.eval_steps == [0, 50, 100, 150]
    assert complete(model, tok, [q for q, _ in pairs], max_new_tokens=20) == [a for _, a in pairs]
    chat = Chat(model, tok, max_new_tokens=20, top_k=1, memory=0)  # trained on single exchanges
    assert chat.reply("to be") == "Ay" and chat.stopped == [True]
    assert chat.reply("or not") == "sir" and chat.stopped == [True, True]
    assert chat.turns == [("to be", "Ay"), ("or not", "sir")]
    assert chat.context("the question") == chat.turn_ids("the question")
    chat.memory = None
    assert chat.context("the question") == chat._ids[1] + chat.turn_ids("the question")  # the older one does not fit


def test_without_an_end_marker_the_model_never_stops():
    model, tok, pairs, _ = _trained_chat_model(end=False)
    chat = Chat(model, tok, max_new_tokens=15, top_k=1)
    answer = chat.reply("to be")
    assert answer.startswith("Ay") and len(answer) == 15 and chat.stopped == [False]


def test_the_chat_keeps_the_latest_turns_that_fit_and_refuses_what_cannot():
    tok = ChatTokenizer(BASE)
    model = grow_vocab(tiny(BASE.vocab_size, block_size=40), tok.vocab_size)
    chat = Chat(model, tok, max_new_tokens=10, top_k=1)
    for q in ("to be", "or not", "to be or not"):
        chat.reply(q)
    ids = chat.context("Ay")
    assert len(ids) <= 40 - 10 and ids[-4:] == [tok.user_id, *BASE.encode("Ay"), tok.assistant_id]
    assert ids[0] == tok.user_id  # whole turns only
    with pytest.raises(ValueError, match="shorten it"):
        chat.context("to be, or not to be: that is the question")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        chat.reply("Ay<|end|>")  # the user cannot type a marker


def test_left_padded_batches_answer_as_one_prompt_at_a_time():
    tok = ChatTokenizer(BASE)
    model = grow_vocab(tiny(BASE.vocab_size), tok.vocab_size)
    prompts = ["to", "or not to be", "Ay, sir. To be"]
    together = complete(model, tok, prompts, max_new_tokens=12)
    assert together == [complete(model, tok, [p], max_new_tokens=12)[0] for p in prompts]
    ids = [tok.encode(render(p)) for p in prompts]
    T = max(map(len, ids))
    padded = torch.tensor([[0] * (T - len(i)) + i for i in ids])
    pad = torch.tensor([T - len(i) for i in ids])
    logits = model(padded, [KVCache(pad) for _ in model.blocks])
    for row, i in zip(logits, ids):
        assert torch.allclose(row[T - len(i):], model(torch.tensor([i]))[0], atol=1e-5)


def test_a_prompt_longer_than_the_context_is_a_clear_error():
    tok = ChatTokenizer(BASE)
    model = grow_vocab(tiny(BASE.vocab_size, block_size=8), tok.vocab_size)
    with pytest.raises(ValueError, match="no room in the model's context"):
        complete(model, tok, ["to be, or not to be"])


# --- DPO and the KL from the reference ---------------------------------------------------------------------

def test_the_dpo_loss_matches_a_hand_computed_case():
    # margin = (-1 - -1.5) - (-2 - -1.5) = 1; loss = -log sigmoid(0.5 * 1) = log(1 + e^-0.5)
    loss = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]), torch.tensor([-1.5]), beta=0.5)
    assert math.isclose(loss.item(), math.log(1 + math.exp(-0.5)), rel_tol=1e-6)
    assert math.isclose(loss.item(), 0.474077, rel_tol=1e-5)
    same = dpo_loss(torch.tensor([-3.0, -1.0]), torch.tensor([-2.0, -4.0]), torch.tensor([-3.0, -1.0]),
                    torch.tensor([-2.0, -4.0]))
    assert math.isclose(same.item(), math.log(2), rel_tol=1e-6)  # the policy is the reference: no preference yet


def test_sequence_logprob_sums_the_answer_tokens_only():
    tok = ChatTokenizer(BASE)
    model = tiny(tok.vocab_size)
    x, y = (torch.tensor([t]) for t in sft_example(tok, "to be", "Ay"))
    logp = F.log_softmax(model(x), -1)[0]
    by_hand = sum(logp[t, y[0, t]] for t in range(y.size(1)) if y[0, t] != IGNORE)
    assert torch.allclose(sequence_logprob(model, x, y)[0], by_hand)


def test_dpo_prefers_the_chosen_answers_and_stays_near_the_reference():
    model, tok, pairs, _ = _trained_chat_model(steps=60)
    reference = grow_vocab(model, tok.vocab_size)  # a copy
    prefs = [(sft_example(tok, q, a), sft_example(tok, q, b)) for (q, a), (_, b) in zip(pairs, pairs[1:] + pairs[:1])]
    assert kl_divergence(model, reference, [c for c, _ in prefs], tok.end_id) == pytest.approx(0, abs=1e-6)
    x, y = pad_examples([c for c, _ in prefs] + [r for _, r in prefs], tok.end_id)
    with torch.no_grad():
        before = sequence_logprob(model, x, y)
    cfg = TrainConfig(max_iters=30, batch_size=3, learning_rate=3e-3, warmup_iters=0, log_interval=1)
    losses = dpo(model, reference, prefs, cfg, tok.end_id, beta=0.5, report=Reporter()).train_loss
    with torch.no_grad():
        after = sequence_logprob(model, x, y)
    n = len(prefs)
    assert losses[0] == pytest.approx(math.log(2), abs=1e-5) and losses[-1] < losses[0]
    assert ((after[:n] - after[n:]) > (before[:n] - before[n:])).all()
    assert kl_divergence(model, reference, [c for c, _ in prefs], tok.end_id) > 0


# --- the instruction data ---------------------------------------------------------------------------------

def test_the_committed_instruction_data_is_what_the_command_makes():
    from lmutils.course.instructions import build

    made = build(load_corpus("shakespeare"))
    for split, examples in made.items():
        assert load_instructions(split) == examples


def test_no_test_prompt_s_source_line_is_in_training():
    from lmutils.finetune import plain

    text = load_corpus("shakespeare")
    line_at = {}
    for split in ("train", "valid", "test"):
        for e in load_instructions(split):
            end = text.index("\n", e["source"])
            line_at.setdefault(split, set()).add(plain(text[e["source"]:end]))
    assert not line_at["test"] & (line_at["train"] | line_at["valid"])
    assert not line_at["valid"] & line_at["train"]
    cut = int(0.9 * len(text))
    assert all(e["source"] >= cut for s in ("train", "valid", "test") for e in load_instructions(s))


def test_every_example_fits_the_model_and_its_vocabulary():
    tok = ChatTokenizer(CharTokenizer.from_text(load_corpus("shakespeare")))
    for split in ("train", "valid", "test"):
        examples = load_instructions(split)
        assert {e["task"] for e in examples} == {"speaker", "real_or_shuffled", "continue"}
        for e in examples:
            assert len(tok.encode(render(e["prompt"], e["answer"]))) <= 128
    with pytest.raises(ValueError, match="unknown split"):
        load_instructions("dev")


def test_a_continuation_completes_its_source_line():
    text = load_corpus("shakespeare")
    for e in load_instructions("test"):
        line = text[e["source"]:text.index("\n", e["source"])]
        if e["task"] == "continue":
            given, rest = halves(e)
            assert e["answer"] == " ".join(line.split()) == f"{given} {rest}" and rest
        if e["task"] == "speaker":
            assert e["prompt"] == f"Who speaks this line?\n{line}"


def test_accuracy_is_the_share_of_exact_answers_and_scored_leaves_the_prompt_out():
    assert accuracy(["A", "B", "C"], ["A", "B", "D"]) == pytest.approx(2 / 3)
    assert accuracy(["real "], ["real"]) == 0
    assert scored([1, 2, 3], [4, 5]) == ([1, 2, 3, 4], [IGNORE, IGNORE, 4, 5])


def test_notebook_12s_checkers_refuse_the_librarys_own_answers():
    from lmutils import chat
    from lmutils.course.checks import nb12

    cheats = [(nb12.dpo_loss, lambda *args: chat.dpo_loss(*args), "dpo_loss"),
              (nb12.kl, lambda p, q: F.kl_div(q.log_softmax(-1), p.log_softmax(-1), log_target=True,
                                              reduction="none").sum(-1), "kl_div"),
              (nb12.mask_prompt, lambda ids, n: chat.scored(ids[:n], ids[n:]), "scored")]
    for check, cheat, name in cheats:
        feedback = check(cheat)
        assert not feedback.ok and "don't call" in feedback.message and name in feedback.message, feedback.message


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_notebook_12s_sizes_train_two_steps(kind):
    from lmutils.course.sizes import SIZES, run_of

    size = SIZES["12"][kind]
    tok = ChatTokenizer(BASE)
    model = grow_vocab(tiny(BASE.vocab_size), tok.vocab_size)
    examples = [sft_example(tok, "to be", "Ay"), sft_example(tok, "or not", "sir")]
    for key in ("sft", "demo"):
        cfg = run_of({**size[key], "max_iters": 2, "batch_size": 2, "eval_interval": 1, "dtype": "float32"}).train
        log = sft(model, examples, cfg, tok.end_id, val_examples=examples, report=Reporter())
        assert len(log.eval_val) == 3 and all(math.isfinite(v) for v in log.eval_val)
    cfg = run_of({**size["dpo"], "max_iters": 2, "batch_size": 2, "log_interval": 1}).train
    losses = dpo(model, grow_vocab(model, tok.vocab_size), [(examples[0], examples[1])], cfg, tok.end_id,
                 beta=size["beta"], report=Reporter()).train_loss
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert (size["checkpoint"] is None) == (kind == "gpu")


def test_a_continuation_scores_the_rest_of_the_line_only():
    tok = ChatTokenizer(BASE)
    e = {"task": "continue", "prompt": "Complete this line: To be, or", "answer": "To be, or not to be"}
    assert halves(e) == ("To be, or", "not to be")
    x, y = continuation_example(tok, e, before=render(e["prompt"]))
    assert tok.decode(x + y[-1:]) == render(e["prompt"]) + "To be, or not to be"
    assert [t for t in y if t != IGNORE] == BASE.encode("not to be")
    x, y = continuation_example(BASE, e, before="\n")
    assert BASE.decode(x[:1]) == "\n" and [t for t in y if t != IGNORE] == BASE.encode("not to be")


def test_few_shot_prompts_hold_the_shots_that_fit():
    shots = [("to be", "Ay"), ("or not", "sir"), ("the question is long", "no")]
    text = few_shot("Ay, sir", shots, room=60)
    assert text.endswith("Ay, sir\nAnswer: ") and text.startswith("or not\nAnswer: sir\n\nto be\nAnswer: Ay\n\n")
    assert len(text) <= 60 and "question" not in text
    assert few_shot("Ay, sir", shots, room=10) == "Ay, sir\nAnswer: "


def test_replay_mixes_plain_text_windows_with_loss_on_every_token():
    tok = ChatTokenizer(BASE)
    examples = [sft_example(tok, "to be", "Ay"), sft_example(tok, "or not to be", "sir, no")]
    ids = torch.tensor(BASE.encode(TEXT))
    mixed = with_replay(examples, ids, 0.6, seed=3)
    assert mixed[:2] == examples and len(mixed) == 5                       # 3 windows: 60 % of the mix
    length = round(sum(len(x) for x, _ in examples) / 2)
    text = ids.tolist()
    for x, y in mixed[2:]:
        assert len(x) == len(y) == length and IGNORE not in y and x[1:] == y[:-1]
        start = next(i for i in range(len(text) - length) if text[i:i + length] == x)
        assert y[-1] == text[start + length]                                # the next character of the text
    assert with_replay(examples, ids, 0.6, seed=3) == mixed and with_replay(examples, ids, 0.0) == examples
    with pytest.raises(ValueError, match="replay share"):
        with_replay(examples, ids, 1.0)
