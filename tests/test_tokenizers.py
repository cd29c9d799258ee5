"""Tokenizers (characters and words) and cleaning: round-trip properties, unknown tokens, clear errors."""

import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

from lmutils.data import CharTokenizer, WordTokenizer, clean_text, load_corpus, split_words

TANG_SAMPLE = "秦川雄帝宅，函谷壯皇居。綺殿千尋起，離宮百雉餘。\n"
SHAKESPEARE_SAMPLE = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


# --- characters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("training", [SHAKESPEARE_SAMPLE, TANG_SAMPLE])
@settings(deadline=None)  # the machine may be busy: no time limit per example
@given(data=st.data())
def test_char_round_trip_for_any_text_in_the_vocabulary(training, data):
    tok = CharTokenizer.from_text(training)
    text = data.draw(st.text(alphabet=sorted(set(training)), max_size=200))
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids) and len(ids) == len(text)
    assert tok.decode(ids) == text
    assert tok.decode(torch.tensor(ids, dtype=torch.long)) == text


@settings(deadline=None)
@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_char_unknown_characters_are_an_error_or_the_unknown_token(training, text):
    assume("□" not in training)
    missing = set(text) - set(training)
    tok = CharTokenizer.from_text(training)
    if missing:
        with pytest.raises(ValueError, match=r"character\(s\) not in the vocabulary"):
            tok.encode(text)
    with_unk = CharTokenizer.from_text(training, unk="□")
    assert with_unk.decode(with_unk.encode(text)) == "".join("□" if c in missing else c for c in text)


# --- words --------------------------------------------------------------------------------------

@settings(deadline=None)
@given(st.text(max_size=200))
def test_split_words_covers_any_text_exactly(text):
    tokens = split_words(text)
    assert "".join(tokens) == text
    assert all(tokens)


@settings(deadline=None)
@given(st.text(max_size=200))
def test_word_round_trip_on_its_own_training_text(text):
    assume(text)
    tok = WordTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text


@settings(deadline=None)
@given(training=st.text(alphabet="ab c\n.,'é语", min_size=1, max_size=80), data=st.data())
def test_word_round_trip_for_any_text_made_of_vocabulary_tokens(training, data):
    # "|" is punctuation: a token of its own that never merges with its neighbours, so "|".join(tokens)
    # splits back into exactly those tokens
    tok = WordTokenizer.from_text(training + "|")
    words = data.draw(st.lists(st.sampled_from(tok.itos), max_size=30))
    text = "|".join(words)
    assert tok.decode(tok.encode(text)) == text


@settings(deadline=None)
@given(training=st.text(alphabet="ab c\n.!", min_size=1, max_size=60), text=st.text(alphabet="abcd \n.?", max_size=60))
def test_word_unknown_tokens_map_to_unk(training, text):
    tok = WordTokenizer.from_text(training, unk="<unk>")
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    expected = "".join(t if t in tok.stoi else "<unk>" for t in split_words(text))
    assert tok.decode(ids) == expected


def test_word_vocabulary_most_frequent_first_and_capped():
    text = "the cat and the dog and the bird"
    tok = WordTokenizer.from_text(text)
    assert tok.itos[:4] == [" ", "the", "and", "bird"]  # 7 spaces, 3 the, 2 and, then ties alphabetically
    capped = WordTokenizer.from_text(text, max_size=4, unk="<unk>")
    assert capped.itos == ["<unk>", " ", "the", "and"]
    assert capped.decode(capped.encode("the cat")) == "the <unk>"
    rare_out = WordTokenizer.from_text(text, min_count=2, unk="<unk>")
    assert rare_out.itos == ["<unk>", " ", "the", "and"]


def test_chinese_has_no_spaces_so_a_word_is_a_whole_line():
    assert split_words(TANG_SAMPLE)[:4] == ["秦川雄帝宅", "，", "函谷壯皇居", "。"]


def test_word_errors_are_clear():
    tok = WordTokenizer.from_text("to be or not to be the")
    with pytest.raises(ValueError, match=r"2 word\(s\) not in the vocabulary: 'question', 'that'.*unk='<unk>'"):
        tok.encode("that be the question")
    with pytest.raises(ValueError, match="could not be encoded.*unk='<unk>'"):
        WordTokenizer.from_text("a b c", max_size=2)
    with pytest.raises(ValueError, match="cannot be a real token"):
        WordTokenizer.from_text("a b c", unk="unk")
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        tok.decode([0, 6])
    with pytest.raises(ValueError, match="empty"):
        WordTokenizer.from_text("")
    with pytest.raises(ValueError, match="room"):
        WordTokenizer.from_text("a b", max_size=1, unk="<unk>")


def test_word_state_dict_survives_a_checkpoint(tmp_path):
    tok = WordTokenizer.from_text(SHAKESPEARE_SAMPLE, max_size=10, unk="<unk>")
    torch.save({"tokenizer": tok.state_dict()}, tmp_path / "t.pt")
    again = WordTokenizer.from_state_dict(torch.load(tmp_path / "t.pt", weights_only=True)["tokenizer"])
    assert again.itos == tok.itos and again.unk == "<unk>"
    assert again.encode(SHAKESPEARE_SAMPLE) == tok.encode(SHAKESPEARE_SAMPLE)
    with pytest.raises(ValueError, match="not a WordTokenizer"):
        WordTokenizer.from_state_dict(CharTokenizer.from_text("ab").state_dict())


# --- cleaning -----------------------------------------------------------------------------------

def test_clean_text_examples():
    messy = "Cafe\u0301  \u201cHello\u201d\r\nWorld\t x  \n\x07ok"
    assert clean_text(messy) == 'Café "Hello"\nWorld x\nok'
    assert clean_text(messy, lower=True) == 'café "hello"\nworld x\nok'


@settings(deadline=None)
@given(st.text(max_size=100), st.booleans())
def test_cleaning_twice_changes_nothing_more(text, lower):
    once = clean_text(text, lower)
    assert clean_text(once, lower) == once
    assert "\r" not in once and "  " not in once and " \n" not in once


def test_cleaning_the_corpora():
    tang = load_corpus("tang")
    assert clean_text(tang) == tang  # nothing to clean, and ，。 stay full-width
    shakespeare = load_corpus("shakespeare")
    assert len(set(clean_text(shakespeare, lower=True))) == 65 - 26


def test_every_tokenizer_checks_ids_the_same_way():
    from lmutils.bpe import BPETokenizer
    from lmutils.data import Tokenizer

    toks = [CharTokenizer.from_text("abc"), WordTokenizer.from_text("a b c"), BPETokenizer([])]
    for tok in toks:
        assert isinstance(tok, Tokenizer) and len(tok) == tok.vocab_size
        assert tok.decode(torch.tensor(tok.encode("a"))) == "a"
        for bad in ([tok.vocab_size], [-1], [0.5]):
            with pytest.raises(ValueError, match=rf"ids must be integers in \[0, {tok.vocab_size}\)"):
                tok.decode(bad)
    assert [repr(t) for t in toks] == ["CharTokenizer(vocab_size=3, unk=None)", "WordTokenizer(vocab_size=4, unk=None)",
                                       "BPETokenizer(vocab_size=256)"]
