"""`python -m lmutils.course.report`: measure the course on the GPU at hand, in one command (`make gpu-report`).

In one run, within --budget-s seconds (what does not start in time is skipped, and the report says so):
  1. the preset that suits the GPU (preset_for), to the end: seconds of training until an evaluation first
     reaches validation loss --target-loss (1.47, nanoGPT's figure), the validation loss over the whole
     split, tokens/s, MFU and peak GPU memory;
  2. the same preset without torch.compile, for --no-compile-steps steps (tokens/s and MFU only);
  2b. the modern preset (--modern-preset, modern-char: notebook 11's block and Muon) to the end, as in 1;
  3. the notebooks (--notebooks, 04 to 09 by default), executed at their GPU sizes, each timed.
The figures go into the results file of notebook 08 as gpu/... metrics (this run's only: earlier gpu/ keys
are dropped, and a figure that does not exist, such as MFU on a CPU, is left out); the GPU's name, the date and
a markdown table for the README go to build/gpu-report.md, and the table is printed.

On a machine without a GPU it refuses, unless --allow-cpu; `--allow-cpu --tiny --notebooks 01` runs the
whole path in seconds on a CPU (the tests do), writing the CPU's figures under the same gpu/ names: on a CPU
the results file is build/gpu-report.json unless --results says otherwise.
"""

import datetime
import json
import re
import sys
import time
from pathlib import Path

import torch

from ..checkpoint import atomic_file
from ..device import describe, pick_device
from ..files import REPO, in_repository
from ..presets import get_preset, preset_for
from ..run import overrides_from, peak_memory, settings_parser, train_preset
from ..train import TrainingOutOfMemory, evaluate
from . import results
from .notebook import execute

NOTEBOOKS = ["04", "05", "06", "07", "08", "09"]
# a clone's build/ and notebooks/; from an installed wheel (on Colab, say) the current folder's
HERE = REPO if in_repository() else Path.cwd()
TINY = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, max_iters=40, eval_interval=20,
            eval_iters=2, warmup_iters=4, compile=False)  # --tiny: the whole path in seconds on a CPU
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LABELS_ONLY = ("step_to_target", "steps_no_compile")  # figures for the markdown, not the results file


def report_parser():
    """The training command's options (the preset and its settings) and the report's own."""
    parser = settings_parser("python -m lmutils.course.report", "Measure the course on this GPU: the preset, "
                             "without torch.compile, and notebooks 04-09; writes gpu/ figures to notebook 08's "
                             "results file and build/gpu-report.md.")
    g = parser.add_argument_group("the report")
    g.add_argument("--budget-s", type=float, default=540, help="skip the parts that would start later (default 540)")
    g.add_argument("--target-loss", type=float, default=1.47, help="validation loss to time (default 1.47)")
    g.add_argument("--no-compile-steps", type=int, default=500, help="steps of the run without torch.compile")
    g.add_argument("--modern-preset", default="modern-char", help="then this preset, to the end, as modern/... "
                   "figures (notebook 11's modern block and Muon; 'none': skip it)")
    g.add_argument("--notebooks", default=",".join(NOTEBOOKS), help="comma-separated numbers, or 'none'")
    g.add_argument("--results", type=Path, help="results file (default: notebook 08's; on a CPU "
                   "build/gpu-report.json)")
    g.add_argument("--out", type=Path, default=HERE / "build" / "gpu-report.md", help="markdown report")
    g.add_argument("--allow-cpu", action="store_true", help="run on a CPU anyway (for testing)")
    g.add_argument("--tiny", action="store_true", help="a tiny model and run (with --allow-cpu, for testing)")
    return parser


def first_reaching(history, target: float):
    """(training seconds, step) of the first evaluation at or below target, or (None, None)."""
    for step, val, seconds in zip(history.eval_steps, history.eval_val, history.eval_seconds):
        if val <= target:
            return seconds, step
    return None, None


def run_preset(settings: dict, device, name: str, progress: bool, target: float) -> dict:
    """Train a preset to the end; its figures, keyed as in the results file (without 'gpu/')."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model, _, history, val_ids = train_preset(settings, device, progress=progress, title=name)
    seconds, step = first_reaching(history, target)
    memory, _ = peak_memory(device)
    return {"val_loss": evaluate(model, val_ids, settings["block_size"]), f"seconds_to_{target:g}": seconds,
            "step_to_target": step, "tokens_per_s": history.tokens_per_s, "mfu": history.mfu,
            "peak_memory_gib": memory / 2**30}


def run_notebook(number: str, device) -> tuple[float | None, str]:
    """(seconds, '') of a notebook run at the device's sizes, or (None, the error's last line)."""
    found = sorted((HERE / "notebooks").glob(f"{number}_*.ipynb")) or sorted(HERE.glob(f"{number}_*.ipynb"))
    if not found:
        return None, f"no notebook {number} in {HERE} or {HERE / 'notebooks'}"
    try:
        return execute(found[0], save=False, env={"LMUTILS_DEVICE": str(device)}), ""
    except Exception as err:  # noqa: BLE001 -- a failing notebook is reported, and the others still run
        lines = ANSI.sub("", str(err)).strip().splitlines() or [type(err).__name__]
        return None, lines[-1].strip()


def guarded(run, *args) -> dict:
    """run(*args), or {} after printing why it failed (out of memory, say): the report goes on."""
    try:
        return run(*args)
    except (ValueError, RuntimeError, TrainingOutOfMemory) as err:
        print(f"failed: {type(err).__name__}: {err}", flush=True)
        return {}


def write_results(path: Path, figures: dict) -> None:
    """Replace the file's gpu/ metrics by this run's numbers (None: left out)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data = {k: v for k, v in data.items() if not k.startswith("gpu/")}
    data |= {f"gpu/{k}": {"value": float(v), "tol": 0} for k, v in figures.items() if v is not None}
    with atomic_file(path) as f:
        f.write((json.dumps(dict(sorted(data.items())), indent=1) + "\n").encode())


def fmt(value, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def markdown(device_name: str, name: str, figures: dict, notebooks: list, skipped: list, args) -> str:
    target = f"seconds_to_{args.target_loss:g}"
    reached = figures.get(target)
    rows = [
        ("validation loss (whole split)", fmt(figures.get("val_loss"), ".4f")),
        (f"training time to validation loss {args.target_loss:g}",
         "not reached" if "val_loss" in figures and reached is None else
         fmt(reached, ".1f", f" s (step {figures.get('step_to_target')})")),
        ("tokens/s", fmt(figures.get("tokens_per_s"), ",.0f")),
        ("MFU", fmt(figures.get("mfu"), ".1%")),
        ("peak memory", fmt(figures.get("peak_memory_gib"), ".2f", " GiB")),
        (f"tokens/s without torch.compile (first {figures.get('steps_no_compile', args.no_compile_steps)} steps)",
         fmt(figures.get("tokens_per_s_no_compile"), ",.0f")),
        ("MFU without torch.compile", fmt(figures.get("mfu_no_compile"), ".1%")),
    ]
    modern = figures.get(f"modern/{target}")
    if any(k.startswith("modern/") for k in figures):
        rows += [
            (f"{args.modern_preset}: validation loss (whole split)", fmt(figures.get("modern/val_loss"), ".4f")),
            (f"{args.modern_preset}: training time to validation loss {args.target_loss:g}",
             "not reached" if "modern/val_loss" in figures and modern is None else
             fmt(modern, ".1f", f" s (step {figures.get('modern/step_to_target')})")),
            (f"{args.modern_preset}: tokens/s", fmt(figures.get("modern/tokens_per_s"), ",.0f")),
            (f"{args.modern_preset}: MFU", fmt(figures.get("modern/mfu"), ".1%"))]
    lines = [f"# GPU report: {device_name}, {datetime.date.today().isoformat()}", "",
             f"torch {torch.__version__}, `python -m lmutils.course.report` (budget {args.budget_s:g} s)", "",
             f"| preset {name} | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], "",
             "| notebook | seconds |", "|---|---|"]
    lines += [f"| {nb} | {cell} |" for nb, cell in notebooks]
    if skipped:
        lines += ["", f"Skipped (budget of {args.budget_s:g} s spent): {', '.join(skipped)}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """python -m lmutils.course.report (the options: report_parser)."""
    args = report_parser().parse_args(argv)
    try:
        device = pick_device(args.device)
        name = args.preset or preset_for(device)
        overrides = {**(TINY if args.tiny else {}), **overrides_from(args)}
        settings = get_preset(name, **overrides)
        plain = get_preset(name, **{**overrides, "compile": False, "eval_interval": args.no_compile_steps,
                                    "eval_iters": min(settings["eval_iters"], 10),
                                    "max_iters": min(args.no_compile_steps, settings["max_iters"])})
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if device.type != "cuda" and not args.allow_cpu:
        print(f"error: --report measures the course on a GPU, and the device here is {describe(device)}; "
              "--allow-cpu runs it anyway (with --tiny --notebooks 01: a test in seconds)", file=sys.stderr)
        return 2
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else describe(device)
    path = args.results or (results.results_path("08") if device.type == "cuda" else
                            HERE / "build" / "gpu-report.json")
    numbers = [n.strip().zfill(2) for n in args.notebooks.split(",") if n.strip() and n.strip() != "none"]
    t0 = time.perf_counter()
    figures, notebooks, skipped = {}, [], []

    def in_budget(part: str) -> bool:
        if time.perf_counter() - t0 < args.budget_s:
            print(f"\n=== {part} ({time.perf_counter() - t0:.0f} s into the report)", flush=True)
            return True
        skipped.append(part)
        print(f"\n=== {part}: skipped, the budget of {args.budget_s:g} s is spent", flush=True)
        return False

    progress = not args.no_progress
    if in_budget(f"preset {name}"):
        figures |= guarded(run_preset, settings, device, name, progress, args.target_loss)
    if in_budget(f"preset {name} without torch.compile, {plain['max_iters']} steps"):
        plain_figures = guarded(run_preset, plain, device, name + " (no compile)", progress, args.target_loss)
        if plain_figures:
            figures |= {"tokens_per_s_no_compile": plain_figures["tokens_per_s"],
                        "mfu_no_compile": plain_figures["mfu"], "steps_no_compile": plain["max_iters"]}
    if args.modern_preset != "none" and in_budget(f"preset {args.modern_preset}"):
        modern = guarded(lambda: get_preset(args.modern_preset, **overrides))
        if modern:
            figures |= {f"modern/{k}": v for k, v in guarded(run_preset, modern, device, args.modern_preset,
                                                             progress, args.target_loss).items()}
    if device.type == "cuda":
        torch.cuda.empty_cache()  # the notebooks' kernels need the memory
    for number in numbers:
        if not in_budget(f"notebook {number}"):
            notebooks.append((number, "skipped (budget)"))
            continue
        seconds, error = run_notebook(number, device)
        figures[f"notebook_seconds/{number}"] = seconds
        notebooks.append((number, f"{seconds:.1f}" if error == "" else f"failed: {error}"))
        print(f"notebook {number}: {notebooks[-1][1]}", flush=True)
    write_results(path, {k: v for k, v in figures.items() if k.split("/")[-1] not in LABELS_ONLY})
    text = markdown(device_name, name, figures, notebooks, skipped, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print("\n" + text + f"\nwritten: {path} (gpu/ metrics), {args.out}; {time.perf_counter() - t0:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
