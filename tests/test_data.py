import hashlib
import re

import pytest
import torch
from hypothesis import given, strategies as st

from lmutils import data
from lmutils.data import CharTokenizer, encode_corpus, get_batch, load_corpus, split, windows

SHAKESPEARE_MD5 = "6fb458f1232090904fb40fe944165e91"
TANG_MD5 = "633c67dd0e6b198be0784cbaee376434"


@pytest.mark.parametrize("name, md5, n_chars, n_distinct", [
    ("shakespeare", SHAKESPEARE_MD5, 1_115_394, 65),
    ("tang", TANG_MD5, 1_100_019, 6_521),
])
def test_corpora_load_and_are_intact(name, md5, n_chars, n_distinct):
    text = load_corpus(name)
    assert hashlib.md5(text.encode("utf-8")).hexdigest() == md5
    assert len(text) == n_chars and len(set(text)) == n_distinct
    assert text.endswith("\n")


def test_aliases_and_paths(tmp_path):
    assert load_corpus("tinyshakespeare") == load_corpus("shakespeare")
    f = tmp_path / "mine.txt"
    f.write_text("hello world\n", encoding="utf-8")
    assert load_corpus(str(f)) == "hello world\n"


def test_a_file_not_in_utf8_is_named_with_what_to_do(tmp_path):
    f = tmp_path / "poems.txt"
    f.write_bytes("Мороз и солнце; день чудесный!\n".encode("cp1251"))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(f))} is not UTF-8 text \(byte 0xcc at position 0 .*"
                                         r"Cyrillic.*Re-save it as UTF-8, e.g. iconv -f CP1251 -t UTF-8 "):
        load_corpus(str(f))
    f.write_bytes("春眠不觉晓，处处闻啼鸟。\n".encode("gbk"))  # the hint names the encoding it looks like
    with pytest.raises(ValueError, match=r"GBK/GB18030.*iconv -f GB18030 -t UTF-8 "):
        load_corpus(str(f))
    f.write_bytes(b"\xef\xbb\xbfhello\n")  # a UTF-8 byte-order mark is no character of the text
    assert load_corpus(str(f)) == "hello\n"


def test_unknown_corpus_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown corpus 'shakespear'.*shakespeare, tang"):
        load_corpus("shakespear")


def test_data_dir_from_environment_and_clear_error(tmp_path, monkeypatch):
    real = data.data_dir()
    monkeypatch.setenv("LMUTILS_DATA", str(real))
    assert data.data_dir() == real
    # nothing anywhere: the error says where it looked and what to do
    monkeypatch.setenv("LMUTILS_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="LMUTILS_DATA"):
        data.data_dir()


@given(st.text(alphabet="abc xyz\n!", min_size=0, max_size=200))
def test_char_tokenizer_round_trips_any_text_in_its_vocabulary(text):
    tok = CharTokenizer.from_text("abc xyz\n!")
    assert tok.decode(tok.encode(text)) == text


@given(st.text(min_size=1, max_size=100))
def test_char_tokenizer_round_trips_arbitrary_unicode(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_char_tokenizer_rejects_unknown_characters_clearly():
    tok = CharTokenizer.from_text("hello")
    with pytest.raises(ValueError, match=r"^3 character\(s\) not in the vocabulary: 'd', 'r', 'w'\. "):
        tok.encode("world")


def test_char_tokenizer_with_unknown_token():
    tok = CharTokenizer.from_text("hello", unk="□")
    assert tok.itos[0] == "□" and tok.vocab_size == 5
    assert tok.decode(tok.encode("help!")) == "hel□□"


def test_char_tokenizer_decode_errors_and_state():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        tok.decode([0, 7])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        tok.decode([-1])
    assert tok.decode(torch.tensor([2, 1, 0])) == "cba"
    again = CharTokenizer.from_state_dict(tok.state_dict())
    assert again.itos == tok.itos and again.unk is None
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.from_text("")


def test_encode_corpus_standard_split():
    tok, train, val = encode_corpus("shakespeare")
    assert tok.vocab_size == 65
    assert len(train) == 1_003_854 and len(train) + len(val) == 1_115_394
    assert train.dtype == torch.long
    assert tok.decode(train[:14]) == "First Citizen:"


def test_split_validates_and_keeps_order():
    a, b = split(list(range(10)), 0.2)
    assert a == list(range(8)) and b == [8, 9]
    with pytest.raises(ValueError, match="between 0 and 1"):
        split([1, 2, 3], 1.5)


def test_windows_are_shifted_by_one():
    ids = torch.arange(20)
    x, y = windows(ids, 4)
    assert x.shape == y.shape == (4, 4)
    assert torch.equal(y, x + 1)
    x2, _ = windows(ids, 4, stride=2)
    assert x2.shape == (8, 4) and x2[1, 0] == 2


def test_get_batch_shapes_targets_and_determinism():
    ids = torch.arange(1000)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    x, y = get_batch(ids, 16, 8, generator=g1)
    assert x.shape == (8, 16) and torch.equal(y, x + 1)
    x2, _ = get_batch(ids, 16, 8, generator=g2)
    assert torch.equal(x, x2)
    assert x.max() < 1000 and y.max() < 1000


@pytest.mark.parametrize("block", [0, 10])
def test_get_batch_rejects_bad_block_size(block):
    with pytest.raises(ValueError, match="block_size must be between 1 and"):
        get_batch(torch.arange(10), block, 2)


def test_get_batch_rejects_2d_input():
    with pytest.raises(ValueError, match="1-D tensor"):
        get_batch(torch.zeros(4, 4, dtype=torch.long), 2, 2)
