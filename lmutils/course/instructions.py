"""The instruction data of notebook 12, made from tiny Shakespeare: `python -m lmutils.course.instructions` writes
data/instructions/{train,valid,test}.jsonl (and prints the counts that data/README.md shows).

Every example is made from one line of a speech in tiny Shakespeare's validation split (its last 10 %), text the
pre-trained GPT (data/pretrained/gpt-shakespeare-3x160.ckpt) never read. Three tasks:
- speaker (question answering): "Who speaks this line?" and the line; the answer is the speaker, one of the four
  who say most in that text;
- real_or_shuffled (a judgement, notebook 09's task): a line in lower case without punctuation, as it is or with
  its words shuffled; the answer is "real" or "shuffled". Training has every line both ways (the same words once
  real and once shuffled: only their order can tell the two apart); valid and test have each line once, half of
  them shuffled;
- continue (text generation): "Complete this line:" and the first half of a line's words; the answer is the whole
  line, its first half repeated and then the rest. What is scored is how well a model predicts the rest (nats per
  character), as a language model is scored: any continuation could be good, the real one is the reference.

The split is by source line: each line goes to train, valid or test (60 / 15 / 25 %, at random with a fixed
seed), and every example made from it goes with it, so no test example's line is in the training data.
"""

import json
import random
import sys
from collections import Counter
from pathlib import Path

from ..data import data_dir, load_corpus, split
from ..finetune import plain, shuffle_words, speeches

SPLITS = {"train": 0.60, "valid": 0.15, "test": 0.25}
SPEAKERS = 4          # the speaker task: the four who speak most lines
SEED = 0
MAX_LINE = 62         # characters: a prompt, its answer and the markers fit in the GPT's 128


def source_lines(text: str) -> list[tuple[str, str, int]]:
    """(speaker, line, offset of the line in text) of every non-empty line of every speech after the first 90 %."""
    start = len(split(text)[0])
    out = []
    for who, body, at in speeches(text):
        if at < start:
            continue
        offset = at + len(who) + 2  # "WHO:\n"
        for line in body.split("\n"):
            if line.strip():
                out.append((who, line, offset))
            offset += len(line) + 1
    return out


def assign_splits(lines, seed: int = SEED) -> dict[str, str]:
    """plain(line) → split, for every source line: a line that occurs twice (in any case or punctuation) goes to
    one split only."""
    keys = sorted({plain(line) for _, line, _ in lines})
    random.Random(seed).shuffle(keys)
    n_train, n_valid = (round(SPLITS[s] * len(keys)) for s in ("train", "valid"))
    return {k: "train" if i < n_train else "valid" if i < n_train + n_valid else "test" for i, k in enumerate(keys)}


def build(text: str, seed: int = SEED) -> dict[str, list[dict]]:
    """The examples of each split, each {"task", "prompt", "answer", "source"}, in a fixed random order."""
    lines = [(who, line, at) for who, line, at in source_lines(text) if len(line) <= MAX_LINE]
    where = assign_splits(lines, seed)
    top = [who for who, _ in Counter(who for who, _, _ in lines).most_common(SPEAKERS)]
    out = {s: [] for s in SPLITS}
    for who, line, at in lines:
        s = where[plain(line)]
        if who in top:
            out[s].append({"task": "speaker", "prompt": f"Who speaks this line?\n{line}", "answer": who, "source": at})
        words = line.split()
        if len(words) >= 4:
            half = len(words) // 2
            out[s].append({"task": "continue", "prompt": f"Complete this line: {' '.join(words[:half])}",
                           "answer": " ".join(words), "source": at})
    rng = random.Random(seed)
    for s in SPLITS:  # each split's own lines: in train each line twice, as written and shuffled; else one of the two
        mine = {}
        for _, line, at in lines:
            if where[plain(line)] == s and len(set(plain(line).split())) >= 4:
                mine.setdefault(plain(line), at)
        pairs = [(p, shuffle_words(p, rng), at) for p, at in mine.items()]
        if s == "train":
            judged = [(p, "real", at) for p, _, at in pairs] + [(q, "shuffled", at) for _, q, at in pairs]
        else:
            judged = [(p, "real", at) if i % 2 == 0 else (q, "shuffled", at) for i, (p, q, at) in enumerate(pairs)]
        out[s] += [{"task": "real_or_shuffled", "prompt": f"Real line or shuffled words?\n{text_}", "answer": answer,
                    "source": at} for text_, answer, at in judged]
    for examples in out.values():
        random.Random(seed).shuffle(examples)
    return out


def write(out: dict, folder: Path) -> dict[str, Counter]:
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for s, examples in out.items():
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples)
        tmp = folder / f"{s}.jsonl.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / f"{s}.jsonl")
        counts[s] = Counter(e["task"] for e in examples)
    return counts


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else data_dir() / "instructions"
    counts = write(build(load_corpus("shakespeare")), folder)
    tasks = sorted({t for c in counts.values() for t in c})
    print(f"wrote {', '.join(f'{s}.jsonl' for s in counts)} to {folder}")
    print("| task | " + " | ".join(counts) + " |\n|---|" + "--:|" * len(counts))
    for t in tasks:
        print(f"| {t} | " + " | ".join(f"{counts[s][t]:,}" for s in counts) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
