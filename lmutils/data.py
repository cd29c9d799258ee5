"""Corpora, tokenisers, splits and batches."""

import numbers
import re
import unicodedata
from collections import Counter
from pathlib import Path

import torch

from .files import course_dir

CORPORA = {
    "shakespeare": "tinyshakespeare.txt",
    "tang": "tang_poems.txt",
}
ALIASES = {"tinyshakespeare": "shakespeare", "tang_poems": "tang", "tang-poems": "tang"}


def data_dir() -> Path:
    """The folder holding the corpora (lmutils.files.course_dir: $LMUTILS_DATA, the repository's data/, or the
    copy inside an installed wheel), with a clear error where it is missing."""
    folder = course_dir("data")
    if not (folder / CORPORA["shakespeare"]).is_file():
        raise FileNotFoundError(f"cannot find the course's corpora: {folder / CORPORA['shakespeare']} is missing. "
                                "Run from a clone of the course repository, reinstall lmutils, or set "
                                "LMUTILS_DATA to the folder holding tinyshakespeare.txt.")
    return folder


def load_corpus(name: str) -> str:
    """The text of a corpus by name ("shakespeare", "tang"), or of any UTF-8 text file given by its path."""
    key = ALIASES.get(name, name)
    if key in CORPORA:
        return read_text(data_dir() / CORPORA[key])
    if Path(name).is_file():
        return read_text(Path(name))
    raise ValueError(f"unknown corpus {name!r}: known corpora are {', '.join(sorted(CORPORA))} "
                     "(or give the path of a UTF-8 text file)")


def read_text(path: Path) -> str:
    """A UTF-8 text file's text, without the byte-order mark some editors write first (U+FEFF would become a
    character of the vocabulary); a file in another encoding is an error that names the likely one and says how
    to convert it."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        data = path.read_bytes()
        byte = f"byte 0x{err.object[err.start]:02x} at position {err.start} is not valid UTF-8"
        where = f"{path} is not UTF-8 text ({byte})"
        name, what = guess_encoding(data)
        if name is None and 0 in data:
            raise ValueError(f"{where}: it is not a text file at all (it holds zero bytes). Give a plain text file, "
                             "saved as UTF-8") from None
        hint = f"it looks like {what}" if name else "its encoding is not clear (`file -i` can guess it)"
        convert = f"iconv -f {name or 'CP1252'} -t UTF-8 {path} > {path.with_suffix('.utf8.txt').name}"
        raise ValueError(f"{where}: {hint}. Re-save it as UTF-8, e.g. {convert}" + ("" if name else " (with the "
                         "file's encoding after -f: CP1252, CP1251, GB18030, Shift_JIS, LATIN1, ...)")
                         + ", and give the new file.") from None


EAST_ASIAN = {  # iconv's name: (a description, the bytes of its full-width comma and full stop)
    "GB18030": ("Chinese text in GBK/GB18030", (b"\xa3\xac", b"\xa1\xa3")),
    "BIG5": ("traditional Chinese text in Big5", (b"\xa1\x41", b"\xa1\x43")),
    "SHIFT_JIS": ("Japanese text in Shift_JIS", (b"\x81\x41", b"\x81\x42")),
}


def guess_encoding(data: bytes) -> tuple[str | None, str]:
    """(iconv's name, a description) of a text's likely encoding (None: unclear), for read_text's hint. Chinese
    and Japanese texts are full of their encoding's full-width punctuation; Cyrillic (CP1251) comes in whole
    words of bytes from 0xC0 up; Western European text (CP1252) has its accented letters alone among ASCII ones."""
    head = data[:2000]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or max(head[::2].count(0), head[1::2].count(0)) > 0.4 * len(head):
        return "UTF-16", "UTF-16 (two bytes a character)"  # ASCII in UTF-16: every other byte is zero
    for name, (what, marks) in EAST_ASIAN.items():
        if any(m in data for m in marks) and decodes(data, name):
            return name, what
    runs = [len(r) for r in re.findall(rb"[\x80-\xff]+", data)]
    high = [b for b in data if b > 127]
    if not runs:
        return None, ""
    if sum(b >= 0xC0 for b in high) >= 0.9 * len(high) and len(high) >= 2.5 * len(runs) and decodes(data, "cp1251"):
        return "CP1251", "Cyrillic text in CP1251 (Windows-1251)"
    if sum(n == 1 for n in runs) >= 0.8 * len(runs):
        return "CP1252", "Western European text in CP1252 (Windows-1252) or Latin-1"
    if sum(n % 2 == 0 for n in runs) >= 0.95 * len(runs) and decodes(data, "gb18030"):
        return "GB18030", EAST_ASIAN["GB18030"][0]
    return None, ""


def decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


class Tokenizer:
    """What the course's tokenizers share (CharTokenizer, WordTokenizer, lmutils.bpe.BPETokenizer): their size
    and decode, which first checks that every id is one of theirs. A subclass sets self.itos, each id's text."""

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        unk = f", unk={self.unk!r}" if hasattr(self, "unk") else ""
        return f"{type(self).__name__}(vocab_size={self.vocab_size}{unk})"

    def check_ids(self, ids) -> list[int]:
        """ids (a list, a tensor or an array) as a list of ints, or a clear error where one is not a token id."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        if not all(isinstance(i, numbers.Integral) and 0 <= i < self.vocab_size for i in ids):
            raise ValueError(f"ids must be integers in [0, {self.vocab_size}), got {ids[:10]}")
        return ids

    def decode(self, ids) -> str:
        return "".join(self.itos[i] for i in self.check_ids(ids))


class CharTokenizer(Tokenizer):
    """Characters to integer ids and back. The vocabulary is the sorted set of characters of a text.

    With unk=None (the default) encoding a character outside the vocabulary is an error; with unk="□"
    (any character) such characters map to an extra unknown token.
    """

    def __init__(self, chars, unk: str | None = None):
        chars = sorted(set(chars) - ({unk} if unk else set()))
        if unk is not None:
            if len(unk) != 1:
                raise ValueError(f"unk must be a single character, got {unk!r}")
            chars = [unk] + chars
        if not chars:
            raise ValueError("cannot build a vocabulary from empty text")
        self.unk = unk
        self.itos = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> "CharTokenizer":
        return cls(text, unk=unk)

    def encode(self, text: str) -> list[int]:
        if self.unk is not None:
            u = self.stoi[self.unk]
            return [self.stoi.get(c, u) for c in text]
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            missing = sorted({c for c in text if c not in self.stoi})
            shown = ", ".join(repr(c) for c in missing[:10]) + (" …" if len(missing) > 10 else "")
            raise ValueError(f"{len(missing)} character(s) not in the vocabulary: {shown}. The model only knows "
                             f"the {self.vocab_size} characters of its training text; remove these from the prompt "
                             "or build the tokenizer with unk='□' to map them to an unknown token.") from None

    def state_dict(self) -> dict:
        """Plain data (saved in checkpoints, loadable with weights_only=True)."""
        return {"kind": "char", "itos": "".join(self.itos), "unk": self.unk}

    @classmethod
    def from_state_dict(cls, state: dict) -> "CharTokenizer":
        tok = cls(state["itos"], unk=state["unk"])
        tok.itos = list(state["itos"])  # keep the saved order exactly
        tok.stoi = {c: i for i, c in enumerate(tok.itos)}
        return tok


def clean_text(text: str, lower: bool = False) -> str:
    """Tidy raw text before tokenising: every line end (\\r\\n, \\r) as \\n; tabs and non-breaking spaces as
    plain spaces; curly quotes as straight ones; other control characters dropped; runs of spaces as one
    space, none at the end of a line; lower=True lowercases (fewer distinct tokens, but "Will" the name
    and "will" the verb become one); last, Unicode NFC, so that "é" is one code point, not e + an accent.
    Full-width CJK punctuation such as ，。 stays as it is. Cleaning twice changes nothing more."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CLEAN_MAP)
    text = re.sub(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", "", text)  # control characters (Unicode Cc) but \n
    text = re.sub(r" +\n", "\n", re.sub(r" {2,}", " ", text))
    return unicodedata.normalize("NFC", text.lower() if lower else text)


_CLEAN_MAP = str.maketrans({"\t": " ", "\u00a0": " ", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})

WORD_PATTERN = re.compile(r"\w+|[^\w\s]|\s+")


def split_words(text: str) -> list[str]:
    """Word tokens: each run of letters/digits (\\w+), each other visible character, each run of whitespace.
    They cover the text exactly, so "".join(split_words(text)) == text."""
    return WORD_PATTERN.findall(text)


class WordTokenizer(Tokenizer):
    """Words to integer ids and back; the same interface as CharTokenizer.

    A text is cut by split_words into words, punctuation marks and runs of whitespace; joining the tokens
    gives the text back, so decode(encode(text)) == text for every text whose tokens are all in the
    vocabulary (the round-trip property). No lowercasing or other normalisation happens here: that is
    clean_text's job, before the tokenizer is built.

    The vocabulary (itos) is given in order; from_text orders it by frequency, most frequent first, and
    max_size / min_count drop the rare tokens. With unk=None, encoding a token outside the vocabulary is an
    error; with unk="<unk>" such tokens map to id 0, which decodes to "<unk>". The unknown token can never
    be confused with a real token: split_words cuts a "<unk>" in a text into "<", "unk", ">".
    """

    def __init__(self, vocab, unk: str | None = None):
        vocab = list(vocab)
        if unk is not None:
            if not isinstance(unk, str) or not unk or WORD_PATTERN.fullmatch(unk):
                raise ValueError(f"unk must be a string that split_words cuts into several tokens, such as "
                                 f"'<unk>', so that it cannot be a real token; got {unk!r}")
            vocab = [unk] + [t for t in vocab if t != unk]
        if not vocab:
            raise ValueError("cannot build a vocabulary from empty text")
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary has repeated tokens: give each token once")
        self.unk = unk
        self.itos = vocab
        self.stoi = {t: i for i, t in enumerate(vocab)}

    @classmethod
    def from_text(cls, text: str, max_size: int | None = None, min_count: int = 1,
                  unk: str | None = None) -> "WordTokenizer":
        """The vocabulary of a text: its tokens seen at least min_count times, the max_size most frequent
        (counting the unknown token), most frequent first, ties in alphabetical order."""
        counts = Counter(split_words(text))
        kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
        if max_size is not None:
            if max_size < 1 + (unk is not None):
                raise ValueError(f"max_size must leave room for at least one token, got {max_size}")
            kept = kept[:max_size - (unk is not None)]
        if len(kept) < len(counts) and unk is None:
            raise ValueError(f"max_size={max_size} and min_count={min_count} leave {len(counts) - len(kept)} of "
                             f"the text's {len(counts)} distinct tokens out, so the text itself could not be "
                             "encoded: give unk='<unk>' to map the dropped tokens to an unknown token")
        return cls(kept, unk=unk)

    def encode(self, text: str) -> list[int]:
        tokens = split_words(text)
        ids = [self.stoi.get(t, -1) for t in tokens]  # -1: not in the vocabulary
        if self.unk is not None:
            return [max(i, 0) for i in ids]  # the unknown token is id 0
        missing = sorted({t for t, i in zip(tokens, ids) if i < 0})
        if missing:
            shown = ", ".join(map(repr, missing[:10])) + (" …" if len(missing) > 10 else "")
            raise ValueError(f"{len(missing)} word(s) not in the vocabulary: {shown}. The tokenizer only knows "
                             f"the {self.vocab_size:,} tokens of its training text; build it with unk='<unk>' "
                             "to map unknown words to an unknown token.")
        return ids

    def state_dict(self) -> dict:
        """Plain data (saved in checkpoints, loadable with weights_only=True)."""
        return {"kind": "word", "itos": list(self.itos), "unk": self.unk}

    @classmethod
    def from_state_dict(cls, state: dict) -> "WordTokenizer":
        if state.get("kind") != "word":
            raise ValueError(f"not a WordTokenizer's state (kind={state.get('kind')!r})")
        itos = list(state["itos"])
        return cls(itos[1:] if state["unk"] is not None else itos, unk=state["unk"])


def split(data, val_fraction: float = 0.1):
    """First (1 - val_fraction) for training, the rest for validation: no shuffling, so no text leaks across."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    n = int(len(data) * (1 - val_fraction))
    return data[:n], data[n:]


def encode_corpus(name: str, tokenizer=None, val_fraction: float = 0.1):
    """Load a corpus, build (or use) a character tokenizer, and return (tokenizer, train_ids, val_ids) as
    1-D int64 tensors; the standard split is the first 90% of characters for training."""
    text = load_corpus(name)
    tokenizer = tokenizer or CharTokenizer.from_text(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train, val = split(ids, val_fraction)
    return tokenizer, train, val


def windows(ids: torch.Tensor, block_size: int, stride: int | None = None):
    """Fixed-length training windows: x = ids[s : s+block_size], y = the same shifted by one.
    stride defaults to block_size (non-overlapping). Returns (x, y), each of shape (n_windows, block_size)."""
    _check_block(ids, block_size)
    stride = stride or block_size
    x = ids[:-1].unfold(0, block_size, stride)
    y = ids[1:].unfold(0, block_size, stride)
    return x, y


def get_batch(ids: torch.Tensor, block_size: int, batch_size: int, device=None, generator=None):
    """A batch of batch_size random windows (x, y) of length block_size, moved to device."""
    _check_block(ids, block_size)
    start = torch.randint(len(ids) - block_size, (batch_size,), generator=generator, device=ids.device)
    offsets = start[:, None] + torch.arange(block_size, device=ids.device)
    x, y = ids[offsets], ids[offsets + 1]
    if device is not None and torch.device(device) != ids.device:
        pin = torch.device(device).type == "cuda"
        x = (x.pin_memory() if pin else x).to(device, non_blocking=pin)
        y = (y.pin_memory() if pin else y).to(device, non_blocking=pin)
    return x, y


def _check_block(ids, block_size):
    if ids.dim() != 1:
        raise ValueError(f"expected a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if not 0 < block_size < len(ids):
        raise ValueError(f"block_size must be between 1 and len(ids) - 1 = {len(ids) - 1}, got {block_size}")
