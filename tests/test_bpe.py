"""Our byte-level BPE against Hugging Face `tokenizers` trained on the same text."""

import pytest

from lmutils.bpe import (BPETokenizer, bits_per_char, bytes_to_unicode, compare_merges, hf_bpe, hf_merges, merge,
                         pretokenize)
from lmutils.data import load_corpus

TEXT = load_corpus("shakespeare")[:60_000]


@pytest.fixture(scope="module")
def trained():
    return BPETokenizer.train(TEXT, 300)


def test_merge_and_pretokenize():
    assert merge([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]
    assert "".join(pretokenize("Hello world!! It's 2 o'clock.\n\n")) == "Hello world!! It's 2 o'clock.\n\n"
    assert pretokenize("Hello world!!") == ["Hello", " world", "!!"]


def test_round_trip_and_no_unknown_tokens(trained):
    for text in [TEXT[:500], "春眠不覺曉，處處聞啼鳥。", "naïve café ☃ \x00\t"]:
        assert trained.decode(trained.encode(text)) == text
    assert len(trained.encode("春")) == 3  # three UTF-8 bytes, no merges for them in English text
    assert trained.vocab_size == 300 and len(trained.merges) == 44


def test_training_compresses(trained):
    history = []
    BPETokenizer.train(TEXT, 300, history=history)
    assert history == sorted(history, reverse=True)
    assert history[-1] == len(trained.encode(TEXT))


def test_same_encodings_and_merges_as_hugging_face(trained):
    hf = hf_bpe(TEXT, 300)
    back = {c: b for b, c in bytes_to_unicode().items()}
    sample = load_corpus("shakespeare")[100_000:110_000]
    theirs = [bytes(back[c] for c in hf.id_to_token(i)) for i in hf.encode(sample).ids]
    ours = [trained.vocab[i] for i in trained.encode(sample)]
    assert ours == theirs
    same = compare_merges(trained, hf_merges(hf))
    assert same["as_sets"] == same["total"] == 44


def test_bytes_to_unicode_is_gpt2s():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256 and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"


def test_bits_per_char():
    assert bits_per_char(0.6931471805599453, 10, 20) == pytest.approx(0.5)


def test_state_dict_round_trip(trained):
    again = BPETokenizer.from_state_dict(trained.state_dict())
    assert again.merges == trained.merges
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train(TEXT, 100)
