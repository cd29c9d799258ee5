"""How the validation loss falls with training compute, on a CPU: the measurement behind notebook 11's scaling plot.

    python -m lmutils.course.scaling                          # every run below, resumable (kept in the file)
    python -m lmutils.course.scaling --jobs 2                 # the same, two runs at a time (one thread each)
    python -m lmutils.course.scaling --tiny --out /tmp/s.json # a few steps each: checks that it runs

The modern recipe (the `modern-char-cpu` preset's block and optimizer) at five sizes, each trained at the
budgets of training FLOPs near its best (a run's schedule fitted to its own length), with GPT-2's block (the
`shakespeare-char-cpu` preset) and notebook 05's LSTM at the same budgets. Budgets are fractions of the CPU
preset's compute, C₀ = its 1,800 steps of 2,048 tokens at the GPT's FLOPs per token (6N + 12·L·T·C, PaLM's
count; for the LSTM 6N, N its weights without the embedding: each weight is used once per token). Every run
is scored on the whole validation split. Then a power law L = a·C^(−α) is fitted to the compute frontier
(the best size at each budget), and extended, as a prediction, to the GPU preset's compute.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from ..data import data_dir, encode_corpus
from ..models import GPT, GPTConfig, LSTMConfig, LSTMLM, num_params
from ..ngram import baselines
from ..presets import get_preset
from ..run import split_settings
from ..train import TrainConfig, evaluate, fit
from .ladder import in_worker, machine, workers, write_json
from .ladder import measured_path as ladder_path
from .race import LSTM_TRAIN

SIZES = {  # name: (n_layer, n_head, n_embd): heads of 32 dimensions
    "1×64": (1, 2, 64), "2×96": (2, 3, 96), "2×128": (2, 4, 128), "3×160": (3, 5, 160), "4×192": (4, 6, 192)}
FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 1)  # of C₀
GRID = {  # the sizes trained at each fraction of C₀: around the best one
    1 / 8: ("1×64", "2×96", "2×128"), 1 / 4: ("1×64", "2×96", "2×128", "3×160"),
    1 / 2: ("2×96", "2×128", "3×160", "4×192"), 1: ("2×128", "3×160", "4×192")}
MODERN, GPT2 = "modern-char-cpu", "shakespeare-char-cpu"


def measured_path() -> Path:
    return Path(data_dir()) / "measured" / "scaling-cpu.json"


def gpt_flops_per_token(settings: dict, vocab_size: int) -> float:
    _, model_kw, cfg = split_settings(settings)
    return GPT(GPTConfig(vocab_size, **model_kw)).flops_per_token(cfg.block_size)


def lstm_flops_per_token(model: LSTMLM) -> float:
    return 6.0 * (num_params(model) - model.embed.weight.numel())


def base_compute(vocab_size: int) -> float:
    """C₀: the training FLOPs of the CPU preset (GPT-2's block, 1,800 steps)."""
    s = get_preset(GPT2)
    return gpt_flops_per_token(s, vocab_size) * s["max_iters"] * s["batch_size"] * s["block_size"]


def gpt_settings(preset: str, size: str | None, budget: float, vocab_size: int, seed: int = 0, **extra) -> dict:
    """A preset at a size (None: its own), for as many steps as the budget of FLOPs buys."""
    shape = {} if size is None else dict(zip(("n_layer", "n_head", "n_embd"), SIZES[size]))
    s = get_preset(preset, **shape)
    steps = max(1, round(budget / (gpt_flops_per_token(s, vocab_size) * s["batch_size"] * s["block_size"])))
    return {k: v for k, v in get_preset(preset, **shape, max_iters=steps, seed=seed, eval_interval=max(1, steps // 8),
                                        **extra).items() if k != "about"}


def lstm_settings(budget: float, vocab_size: int, seed: int = 0, **extra) -> dict:
    torch.manual_seed(0)
    per_token = lstm_flops_per_token(LSTMLM(LSTMConfig(vocab_size, n_embd=64, n_hidden=256)))
    steps = max(1, round(budget / (per_token * LSTM_TRAIN["batch_size"] * LSTM_TRAIN["block_size"])))
    return dict(LSTM_TRAIN, max_iters=steps, eval_interval=max(1, steps // 8), seed=seed, **extra)


EVALUATION_ONLY = ("eval_interval", "eval_iters", "log_interval")  # they change what is measured, not the training


def same_training(a: dict, b: dict) -> bool:
    """Whether two runs' settings train the same model the same way (the evaluations may differ)."""
    return {k: v for k, v in a.items() if k not in EVALUATION_ONLY} == \
        {k: v for k, v in b.items() if k not in EVALUATION_ONLY}


def train(family: str, settings: dict, data) -> dict:
    tok, train_ids, val_ids = data
    if family == "LSTM":
        cfg = TrainConfig(**settings)
        torch.manual_seed(cfg.seed)
        model = LSTMLM(LSTMConfig(tok.vocab_size, n_embd=64, n_hidden=256))
        per_token = lstm_flops_per_token(model)
    else:
        _, model_kw, cfg = split_settings(settings)
        torch.manual_seed(cfg.seed)
        model = GPT(GPTConfig(tok.vocab_size, **model_kw))
        per_token = model.flops_per_token(cfg.block_size)
    history = fit(model, train_ids, val_ids, cfg, device="cpu")
    return dict(params=num_params(model), steps=cfg.max_iters, seconds=history.seconds, flops_per_token=per_token,
                flops=per_token * cfg.max_iters * cfg.tokens_per_step,
                val_loss=evaluate(model, val_ids, cfg.block_size))


def planned(vocab_size: int, tiny: bool = False):
    """(family, size, fraction of C₀, settings) of every run."""
    c0 = base_compute(vocab_size) * (1e-3 if tiny else 1)
    extra = dict(eval_iters=2) if tiny else {}
    grid = {f: sizes[:2] for f, sizes in list(GRID.items())[:2]} if tiny else GRID
    for fraction, sizes in grid.items():
        for size in sizes:
            yield "modern", size, fraction, gpt_settings(MODERN, size, fraction * c0, vocab_size, **extra)
    for fraction in grid:
        yield "GPT-2 block", "2×128", fraction, gpt_settings(GPT2, None, fraction * c0, vocab_size, **extra)
        yield "LSTM", "64→256", fraction, lstm_settings(fraction * c0, vocab_size, **extra)


def frontier(runs: list) -> list:
    """(FLOPs, loss) of the best modern run at each budget."""
    best = {}
    for r in runs:
        if r["family"] == "modern" and (r["fraction"] not in best or r["val_loss"] < best[r["fraction"]]["val_loss"]):
            best[r["fraction"]] = r
    return [(best[f]["flops"], best[f]["val_loss"]) for f in sorted(best)]


def fit_power_law(points) -> tuple[float, float]:
    """(a, α) of L = a·C^(−α), least squares on log L against log C."""
    xs, ys = [math.log(c) for c, _ in points], [math.log(v) for _, v in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return math.exp(my - slope * mx), -slope


def gpu_compute(vocab_size: int, preset: str = "modern-char") -> float:
    s = get_preset(preset)
    return gpt_flops_per_token(s, vocab_size) * s["max_iters"] * s["batch_size"] * s["block_size"] * s["grad_accum"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmutils.course.scaling", description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few steps per run: checks that it runs")
    parser.add_argument("--out", type=Path, default=None, help="default: data/measured/scaling-cpu.json")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at a time, one thread each (default 1)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or measured_path()
    done = json.loads(out.read_text()).get("runs", []) if out.is_file() else []
    ladder_file = ladder_path()
    if not args.tiny and ladder_file.is_file():  # the ladder's GPT-2 block and its last rung at equal tokens
        done += [dict(r, flops=r["flops_per_token"] * r["steps"] * r["settings"]["batch_size"] *
                      r["settings"]["block_size"], from_ladder=True)
                 for r in json.loads(ladder_file.read_text())["runs"] if r["budget"] == "tokens"]
    data = encode_corpus("shakespeare")
    if args.tiny:  # a short validation text: the test checks the path, not the numbers
        data = (*data[:2], data[2][:4096])
    tok, train_ids, val_ids = data
    result = dict(
        about="validation loss (nats per character, the whole validation split) against training FLOPs: the "
              "modern recipe at five sizes, GPT-2's block and notebook 05's LSTM at fractions of the CPU preset's "
              "compute C0; a power law fitted to the modern runs' frontier, and its prediction for modern-char",
        command="python -m lmutils.course.scaling" + (" --tiny" if args.tiny else "")
                + (f" --threads {args.threads}" if args.threads else "")
                + (f" --jobs {args.jobs}" if args.jobs > 1 else ""),
        machine=machine(), date=time.strftime("%Y-%m-%d"), c0=base_compute(tok.vocab_size),
        baselines=baselines(tok.vocab_size, train_ids, val_ids), runs=[])
    plan = list(planned(tok.vocab_size, args.tiny))
    found = [next((r for r in done if same_training(r["settings"], p[3])), None) for p in plan]
    pool = workers(args.jobs, data)
    futures = {i: pool.submit(in_worker, train, p[0], p[3]) for i, p in enumerate(plan) if found[i] is None and pool}
    try:
        for i, (family, size, fraction, settings) in enumerate(plan):  # in the plan's order, as they finish
            run = found[i] or dict(family=family, size=size, fraction=fraction, settings=settings,
                                   **(futures[i].result() if pool else train(family, settings, data)))
            run = dict(run, family=family, size=size, fraction=fraction)
            print(f"{family:12} {size:7} {fraction:5.3f} C0: {run['steps']:6} steps, {run['flops']:.2e} FLOPs, "
                  f"{run['seconds']:6.1f} s, whole-split val {run['val_loss']:.4f}", flush=True)
            result["runs"].append(run)
            write_json(result, out)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    a, alpha = fit_power_law(frontier(result["runs"]))
    c_gpu = gpu_compute(tok.vocab_size)
    result["fit"] = dict(a=a, alpha=alpha, points=frontier(result["runs"]), gpu_flops=c_gpu,
                         gpu_prediction=a * c_gpu ** -alpha)
    write_json(result, out)
    print(f"frontier: L = {a:.3g} · C^(−{alpha:.4f}); at modern-char's {c_gpu:.2e} FLOPs it predicts "
          f"{a * c_gpu ** -alpha:.3f} (a prediction, not a measurement)\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
