"""Corpora, tokenisers, splits and batches."""

import os
from pathlib import Path

import torch

CORPORA = {
    "shakespeare": "tinyshakespeare.txt",
    "tang": "tang_poems.txt",
}
ALIASES = {"tinyshakespeare": "shakespeare", "tang_poems": "tang", "tang-poems": "tang"}


def data_dir() -> Path:
    """The folder holding the corpora: $LMUTILS_DATA, the repository's data/ (a checkout or an editable
    install), the copy inside an installed wheel (pip install from git, as on Colab), or ./data."""
    here = Path(__file__).resolve().parent
    candidates = [Path(p) for p in [os.environ.get("LMUTILS_DATA")] if p]
    candidates += [here.parent / "data", here / "corpora", Path.cwd() / "data", Path.cwd().parent / "data"]
    for folder in candidates:
        if (folder / CORPORA["shakespeare"]).is_file():
            return folder
    looked = "\n  ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"cannot find the course's data folder; looked in:\n  {looked}\n"
                            "Run from a clone of the course repository, reinstall lmutils, "
                            "or set LMUTILS_DATA to the folder holding tinyshakespeare.txt.")


def load_corpus(name: str) -> str:
    """The text of a corpus by name ("shakespeare", "tang"), or of any UTF-8 text file given by its path."""
    key = ALIASES.get(name, name)
    if key in CORPORA:
        return (data_dir() / CORPORA[key]).read_text(encoding="utf-8")
    if Path(name).is_file():
        return Path(name).read_text(encoding="utf-8")
    raise ValueError(f"unknown corpus {name!r}: known corpora are {', '.join(sorted(CORPORA))} "
                     "(or give the path of a UTF-8 text file)")


class CharTokenizer:
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

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, unk={self.unk!r})"

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

    def decode(self, ids) -> str:
        ids = ids.tolist() if torch.is_tensor(ids) else ids
        try:
            return "".join(self.itos[i] for i in ids)
        except (IndexError, TypeError):
            raise ValueError(f"ids must be integers in [0, {self.vocab_size}), got {list(ids)[:10]}") from None

    def state_dict(self) -> dict:
        """Plain data (saved in checkpoints, loadable with weights_only=True)."""
        return {"kind": "char", "itos": "".join(self.itos), "unk": self.unk}

    @classmethod
    def from_state_dict(cls, state: dict) -> "CharTokenizer":
        tok = cls(state["itos"], unk=state["unk"])
        tok.itos = list(state["itos"])  # keep the saved order exactly
        tok.stoi = {c: i for i, c in enumerate(tok.itos)}
        return tok


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
