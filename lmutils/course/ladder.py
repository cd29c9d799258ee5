"""From GPT-2's block to a modern one, a piece at a time, on a CPU: the measurement behind notebook 11's ladder.

    python -m lmutils.course.ladder --time          # seconds per step of each rung, one thread: on a quiet machine
    python -m lmutils.course.ladder --time --threads 2   # the same on two threads (the last rung's steps differ)
    python -m lmutils.course.ladder                 # every rung at equal tokens and at equal time
    python -m lmutils.course.ladder --jobs 2        # the same, two runs at a time (one thread each)
    python -m lmutils.course.ladder --tiny --out /tmp/l.json   # a few steps each: checks that it runs

Each rung adds one piece to the one before: GPT-2's block (the `shakespeare-char-cpu` preset: 2 layers × 128,
batch 16 × 128, AdamW), RMSNorm, rotary positions, a SwiGLU or a ReLU² MLP (both measured, the better one
continues), QK-norm, zero-initialised output projections, then Muon for the blocks' matrices.
Every rung trains with `fit` on tiny Shakespeare and is scored on the whole validation split:

- at equal tokens: the preset's 1,800 steps;
- at equal time: as many steps as take the GPT-2 rung's 1,800 steps' training time. Seconds per step come from
  `--time` (each rung trained for `--time-steps` steps after a warm-up, the median of 3), measured on its own:
  a machine busy with other work gives wrong times (the load is recorded with them), but the same losses.
  The equal time is one thread's. Threads speed the rungs up unevenly (Muon's small Newton–Schulz products gain
  little), so a timing on N threads (`--time --threads N`) adds the last rung at that equal time too.

The first and the last rungs train with 3 seeds, the others with one (so the MLP is chosen on one run each).
The result is written as JSON
(data/measured/ladder-cpu.json) with the machine, the date, the commands, the counting baselines and every run.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import torch

from ..data import data_dir, encode_corpus, get_batch
from ..models import GPT, GPTConfig, num_params
from ..ngram import baselines
from ..presets import MODERN_CPU_TRAINING, get_preset
from ..run import split_settings
from ..train import evaluate, fit, lr_at, make_optimizer, train_step

BASE = "shakespeare-char-cpu"
RUNGS = [  # (name, what it adds to the rung before); "MLP" stands for whichever MLP measured better
    ("GPT-2 block", {}),
    ("+ RMSNorm", dict(norm="rmsnorm")),
    ("+ RoPE", dict(pos="rope")),
    ("+ SwiGLU", dict(mlp="swiglu")),
    ("+ ReLU²", dict(mlp="relu2")),
    ("+ QK-norm", dict(qk_norm=True)),
    ("+ zero-init projections", dict(zero_init_proj=True)),
    ("+ Muon", MODERN_CPU_TRAINING),  # and its rates: the modern-char-cpu preset's
]
MLP_RUNGS = ("+ SwiGLU", "+ ReLU²")
SEEDED = ("GPT-2 block", "+ Muon")  # 3 seeds: the first and the last rungs


def measured_path() -> Path:
    return Path(data_dir()) / "measured" / "ladder-cpu.json"


def rung_settings(name: str, mlp: str = MLP_RUNGS[-1], **overrides) -> dict:
    """The preset's settings with every piece up to rung `name` added; mlp: the MLP rung the later rungs build on."""
    settings = {}
    for rung, adds in RUNGS:
        if rung in MLP_RUNGS and rung != mlp and rung != name:
            continue
        settings |= adds
        if rung == name:
            return get_preset(BASE, **(settings | overrides))
    raise ValueError(f"unknown rung {name!r}: the rungs are {', '.join(r for r, _ in RUNGS)}")


def build(settings: dict, vocab_size: int):
    _, model_kw, cfg = split_settings(settings)
    torch.manual_seed(cfg.seed)
    return GPT(GPTConfig(vocab_size, **model_kw)), cfg


def train(settings: dict, data) -> dict:
    """Train one run; its figures (validation loss over the whole split, the estimates along the way)."""
    tok, train_ids, val_ids = data
    model, cfg = build(settings, tok.vocab_size)
    history = fit(model, train_ids, val_ids, cfg, device="cpu")
    return dict(params=num_params(model), steps=cfg.max_iters, seconds=history.seconds,
                flops_per_token=history.flops_per_token, eval_steps=history.eval_steps, eval_val=history.eval_val,
                val_loss=evaluate(model, val_ids, cfg.block_size))


def load() -> float:
    return os.getloadavg()[0]


def seconds_per_step(settings: dict, data, steps: int = 100, repeats: int = 3, warmup: int = 20) -> dict:
    """Training seconds per step (fit's train_step: forward, backward, clipping, the optimizer), the median of
    `repeats` stretches of `steps` steps after `warmup` steps, in wall-clock and in this process's CPU time."""
    tok, train_ids, _ = data
    model, cfg = build(settings, tok.vocab_size)
    optimizer = make_optimizer(model, cfg, torch.device("cpu"))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    gen = torch.Generator().manual_seed(0)
    batch = lambda: get_batch(train_ids, cfg.block_size, cfg.batch_size, generator=gen)  # noqa: E731
    no_autocast = lambda: torch.autocast("cpu", enabled=False)  # noqa: E731
    model.train()
    wall, cpu = [], []
    for stretch in range(repeats + 1):
        t, c = time.perf_counter(), time.process_time()
        for step in range(warmup if stretch == 0 else steps):
            train_step(model, optimizer, scaler, lr_at(step, cfg), batch, cfg.grad_accum, cfg.grad_clip, no_autocast)
        if stretch:
            wall.append((time.perf_counter() - t) / steps)
            cpu.append((time.process_time() - c) / steps)
    return dict(wall=statistics.median(wall), cpu=statistics.median(cpu), wall_all=wall, cpu_all=cpu)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def timed_rungs():
    """(key, rung, mlp) of every rung to time: the rungs after the MLP's once with each MLP."""
    after = [r for r, _ in RUNGS][[r for r, _ in RUNGS].index(MLP_RUNGS[-1]) + 1:]
    for name, _ in RUNGS:
        for mlp in MLP_RUNGS if name in after else [name if name in MLP_RUNGS else MLP_RUNGS[-1]]:
            yield time_key(name, mlp), name, mlp


def time_key(name: str, mlp: str) -> str:
    return f"{name}, {mlp[2:]}" if name not in MLP_RUNGS and rung_settings(name, mlp)["mlp"] != "gelu" else name


def timing(data, steps: int, repeats: int, warmup: int = 20, say=print) -> dict:
    per_rung = {}
    for key, name, mlp in timed_rungs():
        before = load()
        t = seconds_per_step(rung_settings(name, mlp), data, steps, repeats, warmup)
        per_rung[key] = dict(t, load_before=before, load_after=load())
        say(f"{key:34} {1e3 * t['wall']:6.1f} ms/step wall, {1e3 * t['cpu']:6.1f} ms CPU "
            f"(load {before:.2f} → {load():.2f})")
    return dict(command="python -m lmutils.course.ladder --time" + (f" --time-steps {steps}" if steps != 100 else "")
                + f" --threads {torch.get_num_threads()}",
                machine=machine(), date=time.strftime("%Y-%m-%d %H:%M"), steps=steps, repeats=repeats,
                seconds_per_step=per_rung)


def budget_on(threads) -> str:
    """The budget of the last rung's runs at the equal time of a timing on `threads` threads."""
    return f"time, {threads} threads"


def other_timings(result: dict) -> dict:
    """{budget: timing} of a ladder file's timings on more than one thread ("timing_on_threads": {"2": timing}; one
    thread's is "timing")."""
    return {budget_on(n): t for n, t in result.get("timing_on_threads", {}).items()}


def equal_time_steps(timings: dict, key: str, steps: int) -> int:
    """The steps of the rung timed as `key` that take as long as `steps` steps of the GPT-2 rung (wall-clock)."""
    per_step = timings["seconds_per_step"]
    return round(steps * per_step["GPT-2 block"]["wall"] / per_step[key]["wall"])


def seeds_for(name: str, budget: str, seeds) -> list:
    """3 seeds for the first and the last rungs, one for the others (the MLP chosen on one run each: the
    notebook says so)."""
    return list(seeds) if name in SEEDED else list(seeds[:1])


def plan(timings: dict | None, seeds, steps: int, tiny: bool, mlp: str | None, others: dict | None = None) -> list:
    """(rung, budget, seed, settings) of every run, in the order they are written; mlp: the MLP the later rungs
    build on (None: only the runs up to the MLPs, which do not depend on it); others: other_timings(), whose
    budgets train the last rung only."""
    names = [r for r, _ in RUNGS]
    budgets = {"tokens": None} | ({"time": timings} if timings else {}) | (others or {})
    runs = []
    for budget, timed in budgets.items():
        for name in names:
            if budget != "tokens" and name == "GPT-2 block":
                continue  # its equal-time run is its equal-token run
            if budget in (others or {}) and name != names[-1]:
                continue
            if mlp is None and names.index(name) > names.index(MLP_RUNGS[-1]):
                continue
            mlp_now = name if name in MLP_RUNGS else (mlp or MLP_RUNGS[-1])
            n = steps if budget == "tokens" else equal_time_steps(timed, time_key(name, mlp_now), steps)
            for seed in seeds_for(name, budget, seeds):
                extra = dict(eval_iters=2, eval_interval=max(1, n // 2)) if tiny else {}
                settings = rung_settings(name, mlp_now, max_iters=n, seed=seed, **extra)
                runs.append((name, budget, seed, {k: v for k, v in settings.items() if k != "about"}))
    return runs


_worker_data = None


def _start_worker(data) -> None:
    global _worker_data
    _worker_data = data
    torch.set_num_threads(1)


def in_worker(fn, *args):
    """fn(*args, data) in a worker of `workers`."""
    return fn(*args, _worker_data)


def workers(jobs: int, data):
    """A pool of `jobs` processes on one thread each, every one holding `data`; None for one job (train here)."""
    if jobs <= 1:
        return None
    return ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(data,))


def ladder(data, timings: dict | None, seeds=(0, 1, 2), steps: int = 1800, tiny: bool = False, done=(), save=None,
           say=print, jobs: int = 1, others: dict | None = None) -> list:
    """Every rung at equal tokens (steps), then at equal time (without timings: at equal tokens only), then the
    last rung at the equal time of each timing in `others` (other_timings()); returns the runs. Runs in `done`
    with the same settings are kept, not trained again; save(runs) after every run.
    jobs > 1 trains that many runs at a time, each in a process of its own on one thread: the same runs, the
    same losses (each run seeds itself), about jobs times sooner on as many cores."""
    order = {(name, budget, seed): i for i, (name, budget, seed, _) in enumerate(plan(timings, seeds, steps, tiny,
                                                                                       MLP_RUNGS[-1], others))}
    finished = {}

    def record(name, budget, seed, run):
        finished[name, budget, seed] = run
        say(f"{name:26} {budget:6} seed {seed}: {run['steps']:5} steps, {run['params']:,} params, "
            f"{run['seconds']:6.1f} s, whole-split val {run['val_loss']:.4f}")
        if save:
            save([finished[k] for k in sorted(finished, key=order.get)])

    def run_all(specs, pool):
        todo = {}
        for name, budget, seed, settings in specs:
            if (name, budget, seed) in finished:
                continue
            run = next((r for r in done if r["settings"] == settings and r["budget"] == budget), None)
            if run is not None:
                record(name, budget, seed, run)
            elif pool is None:
                record(name, budget, seed, dict(rung=name, budget=budget, seed=seed, **train(settings, data),
                                                settings=settings))
            else:
                todo[pool.submit(in_worker, train, settings)] = name, budget, seed, settings
        for future in as_completed(todo):
            name, budget, seed, settings = todo[future]
            record(name, budget, seed, dict(rung=name, budget=budget, seed=seed, **future.result(), settings=settings))

    def chosen_mlp():
        mlp = min(MLP_RUNGS, key=lambda r: mean([x["val_loss"] for (n, b, _), x in finished.items()
                                                 if n == r and b == "tokens"]))
        say(f"the better MLP at equal tokens ({len(seeds_for(mlp, 'tokens', seeds))} run(s) each): {mlp}")
        return mlp

    pool = workers(jobs, data)
    try:
        run_all(plan(timings, seeds, steps, tiny, None), pool)
        run_all(plan(timings, seeds, steps, tiny, chosen_mlp(), others), pool)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return [finished[k] for k in sorted(finished, key=order.get)]


def summary(result: dict) -> list:
    """One row per rung of a measured ladder: its losses at equal tokens and at equal time, each as (mean,
    standard deviation, seeds), its parameters, the steps its equal time buys, its milliseconds per step and those
    steps' training seconds from the timing (the GPT-2 rung's equal-time run is its equal-token run). The rungs
    after the MLPs build on the MLP the ladder chose."""
    rows = []
    for name, _ in RUNGS:
        runs = {b: [r for r in result["runs"] if r["rung"] == name and r["budget"] == b] for b in ("tokens", "time")}
        runs["time"] = runs["time"] or runs["tokens"]
        per_step = result["timing"]["seconds_per_step"][run_time_key(runs["time"][0])]["wall"]
        rows.append(dict(rung=name, params=runs["time"][0]["params"], steps=runs["time"][0]["steps"],
                         ms_per_step=1e3 * per_step, seconds=per_step * runs["time"][0]["steps"],
                         **{b: spread([r["val_loss"] for r in rs]) for b, rs in runs.items()}))
    return rows


def run_time_key(run: dict) -> str:
    """The timing's key of a run's rung, on the MLP the run trained with."""
    mlp_rung = {rung_settings(r)["mlp"]: r for r in MLP_RUNGS}
    return time_key(run["rung"], mlp_rung.get(run["settings"]["mlp"], MLP_RUNGS[-1]))


def at_other_threads(result: dict) -> list:
    """The last rung at the equal time of each timing on more threads: one dict each with the threads, the two
    rungs' milliseconds per step on them, the steps that equal time buys and the losses as (mean, sd, seeds)."""
    rows = []
    last = RUNGS[-1][0]
    for threads, timed in result.get("timing_on_threads", {}).items():
        runs = [r for r in result["runs"] if r["rung"] == last and r["budget"] == budget_on(threads)]
        if not runs:
            continue
        per_step = timed["seconds_per_step"]
        rows.append(dict(threads=int(threads), steps=runs[0]["steps"], gpt2_ms=1e3 * per_step["GPT-2 block"]["wall"],
                         ms_per_step=1e3 * per_step[run_time_key(runs[0])]["wall"],
                         loss=spread([r["val_loss"] for r in runs])))
    return rows


def spread(values) -> tuple:
    return mean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values)


def mean(values) -> float:
    return sum(values) / len(values)


def write_json(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmutils.course.ladder", description=__doc__.split("\n")[0])
    parser.add_argument("--time", action="store_true", help="measure each rung's seconds per step and stop")
    parser.add_argument("--time-steps", type=int, default=100, help="steps per timed stretch (default 100)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tiny", action="store_true", help="a few steps per run: checks that it runs")
    parser.add_argument("--out", type=Path, default=None, help="default: data/measured/ladder-cpu.json")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at a time, one thread each (default 1): the same results, sooner")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's; 1 for --time). On a machine busy with other work one "
                             "thread trains several times faster than two that wait for each other; the losses are "
                             "the same")
    args = parser.parse_args(argv)
    if args.threads or args.time:
        torch.set_num_threads(args.threads or 1)
    out = args.out or measured_path()
    data = encode_corpus("shakespeare")
    if args.tiny:  # a short validation text: the test checks the path, not the numbers
        data = (*data[:2], data[2][:4096])
    previous = json.loads(out.read_text()) if out.is_file() else {}
    if args.time or args.tiny:
        steps, repeats, warmup = (3, 1, 1) if args.tiny else (args.time_steps, 3, 20)
        timings = timing(data, steps, repeats, warmup)
        if args.time:
            threads = torch.get_num_threads()
            if threads == 1:
                previous["timing"] = timings
            else:
                previous.setdefault("timing_on_threads", {})[str(threads)] = timings
            write_json(previous, out)
            print(f"wrote the timing on {threads} thread(s) into {out}")
            return 0
    else:
        timings = previous.get("timing")
        if timings is None:
            print(f"{out} has no timing yet: the equal-time runs need python -m lmutils.course.ladder --time, on a "
                  "quiet machine; training at equal tokens only")
    steps = 4 if args.tiny else get_preset(BASE)["max_iters"]
    tok, train_ids, val_ids = data
    result = dict(
        about="validation loss (nats per character, the whole validation split) of each rung of the ladder from "
              "GPT-2's block to a modern one, at equal tokens and at equal training time (steps from the timing)",
        command="python -m lmutils.course.ladder" + (" --tiny" if args.tiny else "")
                + (f" --threads {args.threads}" if args.threads else "")
                + (f" --jobs {args.jobs}" if args.jobs > 1 else ""),
        machine=machine(), date=time.strftime("%Y-%m-%d"), baselines=baselines(tok.vocab_size, train_ids, val_ids),
        timing=timings, timing_on_threads=previous.get("timing_on_threads", {}), runs=[])

    def save(runs):  # after every run: an interrupted ladder resumes where it stopped
        now = json.loads(out.read_text()).get("timing") if out.is_file() else None  # a --time run meanwhile
        write_json(dict(result, timing=now or timings, runs=runs), out)

    ladder(data, timings, args.seeds, steps, args.tiny, done=previous.get("runs", []), save=save, jobs=args.jobs,
           others=other_timings(previous))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
