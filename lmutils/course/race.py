"""LSTM against GPT on one CPU, several seeds: the measurement behind notebook 08's race plot.

    python -m lmutils.course.race                        # 3 seeds × 2 models, about 7 minutes on 2 cores
    python -m lmutils.course.race --tiny --out /tmp/r.json   # a few steps each: checks that it runs

Each model trains with `fit` on tiny Shakespeare (an LSTM of notebook 05's kind, 64 → 256, the GPT of the
`shakespeare-char-cpu` preset), for 1,800 steps, about 70 s each on two cores, and the
validation estimates are kept against the training seconds (evaluation time excluded). At the end each is
scored on the whole validation split. The result is written as JSON (data/measured/lstm-vs-gpt-cpu.json),
with the machine and the command, so that the notebook plots what was measured and anyone can measure again.
"""

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..checkpoint import atomic_file
from ..data import data_dir, encode_corpus
from ..models import GPT, GPTConfig, LSTMConfig, LSTMLM, num_params
from ..ngram import baselines
from ..progress import Reporter
from ..presets import get_preset
from ..run import split_settings
from ..train import TrainConfig, evaluate, fit
from .ladder import mean, spread

LSTM_TRAIN = dict(batch_size=64, block_size=64, learning_rate=1e-2, min_lr=1e-3, warmup_iters=50,
                  eval_iters=20, grad_clip=1.0, dtype="float32")
RACE = {  # name: (steps, steps with --tiny)
    "LSTM": (1800, 4),
    "GPT": (1800, 4),
}


def measured_path() -> Path:
    return Path(data_dir()) / "measured" / "lstm-vs-gpt-cpu.json"


def summary(measured: dict) -> dict:
    """Each contestant's runs: {model: dict(loss=(mean, standard deviation, seeds), steps, seconds (mean), params)}."""
    out = {}
    for name in dict.fromkeys(r["model"] for r in measured["runs"]):
        runs = [r for r in measured["runs"] if r["model"] == name]
        out[name] = dict(loss=spread([r["val_loss"] for r in runs]), steps=runs[0]["steps"],
                         params=runs[0]["params"], seconds=mean([r["seconds"] for r in runs]))
    return out


def build(name: str, vocab_size: int, steps: int, seed: int):
    """(model, TrainConfig) of one contestant, trained for `steps` steps with the schedule fitted to them."""
    torch.manual_seed(seed)
    if name == "LSTM":
        cfg = TrainConfig(**LSTM_TRAIN, max_iters=steps, eval_interval=max(1, steps // 12), seed=seed)
        return LSTMLM(LSTMConfig(vocab_size, n_embd=64, n_hidden=256)), cfg
    _, model_kw, cfg = split_settings(get_preset("shakespeare-char-cpu", max_iters=steps,
                                                 eval_interval=max(1, steps // 12), seed=seed, checkpoint=None))
    return GPT(GPTConfig(vocab_size, **model_kw)), cfg


def race(seeds=(0, 1, 2), tiny: bool = False, say=print) -> dict:
    tok, train_ids, val_ids = encode_corpus("shakespeare")
    runs = []
    for seed in seeds:
        for name, (steps, tiny_steps) in RACE.items():
            model, cfg = build(name, tok.vocab_size, tiny_steps if tiny else steps, seed)
            if tiny:
                cfg = replace(cfg, eval_iters=2)
            history = fit(model, train_ids, val_ids, cfg, device="cpu", report=Reporter())
            val = evaluate(model, val_ids, cfg.block_size)
            say(f"{name:4} seed {seed}: {num_params(model):,} params, {cfg.max_iters} steps in "
                f"{history.seconds:.1f} s ({history.tokens_per_s:,.0f} tokens/s), whole-split val {val:.4f}")
            runs.append(dict(model=name, seed=seed, params=num_params(model), steps=cfg.max_iters,
                             seconds=history.seconds, tokens_per_s=history.tokens_per_s,
                             eval_seconds=history.eval_seconds, eval_val=history.eval_val, val_loss=val))
    return dict(
        about="validation loss against training seconds on a CPU; eval_val: estimates on 20 random batches; "
              "val_loss: the whole validation split at the end",
        command="python -m lmutils.course.race" + (" --tiny" if tiny else ""),
        machine=f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                f"torch {torch.__version__}",
        date=time.strftime("%Y-%m-%d"),
        baselines=baselines(tok.vocab_size, train_ids, val_ids),
        runs=runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmutils.course.race", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tiny", action="store_true", help="a few steps per model: checks that it runs")
    parser.add_argument("--out", type=Path, default=None, help="default: data/measured/lstm-vs-gpt-cpu.json")
    args = parser.parse_args(argv)
    result = race(args.seeds, args.tiny)
    args.out = args.out or measured_path()
    with atomic_file(args.out) as f:
        f.write((json.dumps(result, indent=1) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
