"""Checkpoints: atomic writes, weights-only loading, clear errors, tokenizers and random states."""

import pytest
import torch

from lmutils import checkpoint
from lmutils.checkpoint import (CheckpointError, atomic_file, load_checkpoint, load_model, load_state, restore_model,
                                rng_states, save_atomic, save_checkpoint, set_rng_states)
from lmutils.data import CharTokenizer, WordTokenizer
from lmutils.models import LSTMConfig, LSTMLM


def test_checkpoint_is_atomic_and_round_trips(tiny_ids, tiny_gpt, tmp_path):
    model = tiny_gpt()
    tok = CharTokenizer.from_text("abcdefghijkl")
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, tokenizer=tok)
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.pt"]  # no temporary file left behind
    again, tok2 = load_model(path)
    x = tiny_ids[:16][None]
    assert torch.equal(model.eval()(x), again(x))
    assert isinstance(tok2, CharTokenizer) and tok2.itos == tok.itos


def test_save_atomic_leaves_the_old_file_whole_after_an_error(tmp_path):
    path = tmp_path / "ck.pt"
    save_atomic({"step": 3, "w": torch.ones(2)}, path)
    assert load_state(path)["step"] == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    with pytest.raises(RuntimeError, match="disk full"), atomic_file(path) as f:
        f.write(b"half a checkpoint")
        raise RuntimeError("disk full")
    assert load_state(path)["step"] == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]


def test_first_words_cuts_at_a_word():
    from lmutils.checkpoint import first_words

    assert first_words("short message\nsecond line") == "short message"
    long = "Weights only load failed. " + "If you trust the source of the file, try again " * 10
    cut = first_words(long, limit=60)
    assert cut.endswith(" …") and len(cut) <= 62 and long.startswith(cut[:-2]) and long[len(cut) - 2] == " "


def test_word_tokenizer_checkpoint_round_trips(tiny_gpt, tmp_path):
    text = "to be or not to be, that is the question"
    for tok in (WordTokenizer.from_text(text), WordTokenizer.from_text(text, max_size=8, unk="<unk>")):
        path = save_checkpoint(tmp_path / "words.pt", tiny_gpt(), tokenizer=tok)
        _, again = load_model(path)
        assert isinstance(again, WordTokenizer) and again.itos == tok.itos and again.unk == tok.unk
        assert again.encode(text) == tok.encode(text)
    state = load_checkpoint(path)
    state["tokenizer"]["kind"] = "bpe"
    torch.save(state, tmp_path / "bpe.pt")
    with pytest.raises(CheckpointError, match="unknown kind 'bpe'"):
        load_model(tmp_path / "bpe.pt")


def test_checkpoint_errors(tiny_gpt, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    path = save_checkpoint(tmp_path / "m.pt", tiny_gpt())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated") as err:
        load_checkpoint(truncated)
    inner = str(err.value).split(" (", 1)[1].split("). It is", 1)[0]
    assert inner.endswith(" …") or "…" not in inner  # PyTorch's long message is cut at a word, never mid-word
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint"):
        load_checkpoint(tmp_path)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not an lmutils checkpoint"):
        load_checkpoint(other)
    with pytest.raises(CheckpointError, match=r"n_embd=32 \(this model: 64\)"):
        restore_model(load_checkpoint(path), tiny_gpt(n_embd=64))
    with pytest.raises(CheckpointError, match="a gpt model"):
        restore_model(load_checkpoint(path), LSTMLM(LSTMConfig(vocab_size=12)))


def test_a_model_only_checkpoint_is_not_resumed(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path):
    path = save_checkpoint(tmp_path / "weights.pt", tiny_gpt())
    with pytest.raises(CheckpointError, match="holds a model but no training run.*new checkpoint path"):
        train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=5, checkpoint=str(path)))


def test_gpu_random_state_is_saved_and_restored(tiny_gpt, tmp_path, monkeypatch):
    # dropout on a GPU draws from the GPU's generator: a resumed run needs its state back. No GPU here, so
    # torch.cuda's two functions are stood in for by a fake generator.
    gpu = {"state": torch.arange(16, dtype=torch.uint8)}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device="cuda": gpu["state"].clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device="cuda": gpu.update(state=state))
    cuda = torch.device("cuda", 0)
    batch_gen = torch.Generator().manual_seed(1)
    path = save_checkpoint(tmp_path / "gpu.pt", tiny_gpt(), rng=[rng_states(batch_gen, cuda)])
    saved = load_checkpoint(path)["rng"]["ranks"][0]  # through torch.load(weights_only=True)
    assert torch.equal(saved["cuda"], torch.arange(16, dtype=torch.uint8))
    gpu["state"] = torch.zeros(16, dtype=torch.uint8)  # the GPU's generator moves on
    set_rng_states(saved, torch.Generator(), cuda)
    assert torch.equal(gpu["state"], torch.arange(16, dtype=torch.uint8))
    assert rng_states(batch_gen, "cpu")["cuda"] is None  # training on a CPU: no GPU state to keep
    set_rng_states(saved, torch.Generator(), "cpu")  # a GPU checkpoint resumed on a CPU: nothing to restore


def test_restore_continues_the_gpu_generator_in_fit(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path,
                                                    monkeypatch):
    # fit() saves and restores the state through rng_states/set_rng_states for its device
    calls = []
    real = checkpoint.set_rng_states
    monkeypatch.setattr(checkpoint, "set_rng_states", lambda s, g, d: calls.append(s) or real(s, g, d))
    path = str(tmp_path / "run.pt")
    train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=10, eval_interval=10, checkpoint=path))
    train_quietly(tiny_gpt(), tiny_ids, quick(max_iters=20, eval_interval=10, checkpoint=path))
    assert len(calls) == 1 and set(calls[0]) == {"batch", "torch", "cuda"}
