"""Byte-level byte-pair encoding (BPE), as GPT-2 does it, from scratch.

Start from the 256 possible bytes of UTF-8 text; count every adjacent pair of tokens in the training text;
merge the most frequent pair into a new token; repeat. A vocabulary of 256 + n_merges tokens follows, and
every text can be encoded (any text is a sequence of bytes: no token is ever unknown).

Before counting, the text is cut into chunks by a GPT-2-like pattern (words with their leading space,
numbers, punctuation, whitespace), so that merges never cross a chunk: "dog." and "dog!" share "dog".
GPT-2's pattern needs Unicode classes (\\p{L} letters, \\p{N} digits) that only the `regex` package knows
(it comes with `transformers`); without it, `re` with an ASCII approximation is used: non-ASCII letters
(é, 春) then count as punctuation, so chunks of Chinese text differ, but every text still round-trips.

    tok = BPETokenizer.train(text, vocab_size=512)
    ids = tok.encode("To be, or not to be")        # list of ints
    tok.decode(ids)                                # the text back
"""

import math
from collections import Counter, defaultdict

from .data import Tokenizer

try:
    import regex as _re
    GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    UNICODE_PATTERN = True
except ImportError:  # the standard library: ASCII letters and digits only
    import re as _re
    GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+"""
    UNICODE_PATTERN = False

_SPLIT = _re.compile(GPT2_PATTERN)


def pretokenize(text: str) -> list[str]:
    """GPT-2's chunks: "Hello world!!" → ["Hello", " world", "!!"]. They cover the text exactly."""
    return _SPLIT.findall(text)


def pair_counts(ids, counts: Counter | None = None, weight: int = 1) -> Counter:
    """How often each adjacent pair of tokens occurs in ids (overlaps counted: [1, 1, 1] has (1, 1) twice)."""
    counts = Counter() if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] += weight
    return counts


def merge(ids, pair, new_id: int) -> list:
    """Replace every occurrence of pair in ids by new_id, left to right: [1, 1, 1] with (1, 1) → [new, 1]."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def bits_per_char(nats_per_token: float, n_tokens: int, n_chars: int) -> float:
    """A loss in nats per token → bits per character: the total nats of the text, per character, in bits."""
    return nats_per_token * n_tokens / n_chars / math.log(2)


class BPETokenizer(Tokenizer):
    """Byte-level BPE. merges[i] is the pair of token ids that became token 256 + i; vocab[i] its bytes."""

    def __init__(self, merges):
        self.merges = [tuple(p) for p in merges]
        self.ranks = {pair: 256 + i for i, pair in enumerate(self.merges)}  # pair → the id it becomes
        self.vocab = [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, history: list | None = None) -> "BPETokenizer":
        """Learn vocab_size - 256 merges from text. Ties (pairs with the same count) go to the smallest pair
        of ids (ties are common late in training, among rare pairs). history, if given, receives the number of tokens
        of the text after each merge."""
        if vocab_size < 256:
            raise ValueError(f"a byte-level vocabulary has at least the 256 bytes: vocab_size={vocab_size} < 256")
        words = Counter(pretokenize(text))                        # each distinct chunk once, with its count
        chunks = [list(w.encode("utf-8")) for w in words]
        weights = list(words.values())
        counts, where = Counter(), defaultdict(set)               # pair → count; pair → chunks holding it
        for j, ids in enumerate(chunks):
            pair_counts(ids, counts, weights[j])
            for pair in zip(ids, ids[1:]):
                where[pair].add(j)
        total = sum(len(ids) * n for ids, n in zip(chunks, weights))
        merges, merge_counts = [], []
        for new_id in range(256, vocab_size):
            best, n_best = max(counts.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]), default=(None, 0))
            if n_best <= 0:
                break  # every chunk is a single token already
            for j in where.pop(best):                             # update only the chunks that change
                pair_counts(chunks[j], counts, -weights[j])
                total -= len(chunks[j]) * weights[j]
                chunks[j] = merge(chunks[j], best, new_id)
                total += len(chunks[j]) * weights[j]
                pair_counts(chunks[j], counts, weights[j])
                for pair in zip(chunks[j], chunks[j][1:]):
                    where[pair].add(j)
            merges.append(best)
            merge_counts.append(n_best)
            if history is not None:
                history.append(total)
        tok = cls(merges)
        tok.merge_counts = merge_counts  # how often each merged pair occurred when it was merged
        return tok

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _encode_chunk(self, chunk: str) -> list[int]:
        if chunk not in self._cache:
            ids = list(chunk.encode("utf-8"))
            while len(ids) > 1:  # apply the earliest-learned merge present, as in training
                pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, math.inf))
                if pair not in self.ranks:
                    break
                ids = merge(ids, pair, self.ranks[pair])
            self._cache[chunk] = ids
        return self._cache[chunk]

    def encode(self, text: str) -> list[int]:
        return [i for chunk in pretokenize(text) for i in self._encode_chunk(chunk)]

    def decode(self, ids) -> str:
        ids = self.check_ids(ids)
        # a token may hold part of a character's bytes: decode the whole byte string, never token by token
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_str(self, i: int) -> str:
        """How token i looks (its bytes as text; bytes that are not whole UTF-8 characters as \\xNN)."""
        return self.vocab[i].decode("utf-8", errors="backslashreplace")

    def state_dict(self) -> dict:
        """Plain data (saved in checkpoints, loadable with weights_only=True)."""
        return {"kind": "bpe", "merges": [list(p) for p in self.merges]}

    @classmethod
    def from_state_dict(cls, state: dict) -> "BPETokenizer":
        if state.get("kind") != "bpe":
            raise ValueError(f"not a BPETokenizer's state (kind={state.get('kind')!r})")
        return cls(state["merges"])


# --- the same tokenizer with Hugging Face `tokenizers` (imported only when called) --------------------

def bytes_to_unicode() -> dict:
    """GPT-2's map from the 256 bytes to printable characters (HF's ByteLevel alphabet): printable bytes stay
    themselves, the others (space, control bytes…) become characters from U+0100 on (space → "Ġ")."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in keep]
    return {**{b: chr(b) for b in keep}, **{b: chr(256 + n) for n, b in enumerate(shifted)}}


def hf_bpe(text: str, vocab_size: int):
    """A Hugging Face `tokenizers.Tokenizer`: byte-level BPE trained on text with the same pre-tokenisation."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, min_frequency=0)
    tok.train_from_iterator([text], trainer)
    return tok


def hf_merges(hf_tokenizer) -> list[tuple[bytes, bytes]]:
    """The merges of a byte-level HF tokenizer as pairs of byte strings (comparable with ours)."""
    import json

    back = {c: b for b, c in bytes_to_unicode().items()}
    merges = json.loads(hf_tokenizer.to_str())["model"]["merges"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    return [(bytes(back[c] for c in a), bytes(back[c] for c in b)) for a, b in pairs]


def compare_merges(ours: BPETokenizer, theirs: list[tuple[bytes, bytes]]) -> dict:
    """How many merges agree, in order, and the first that does not (as byte strings)."""
    mine = [(ours.vocab[a], ours.vocab[b]) for a, b in ours.merges]
    same = next((i for i, (m, t) in enumerate(zip(mine, theirs)) if m != t), min(len(mine), len(theirs)))
    first = None if same == len(mine) else (same, mine[same], theirs[same] if same < len(theirs) else None)
    return {"agree": same, "total": len(mine), "as_sets": len(set(mine) & set(theirs)), "first_difference": first}
