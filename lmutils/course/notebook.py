"""The notebooks' conventions and their execution, for authors (`python -m lmutils.course`):

- check_notebook(): what tests/test_course.py asserts about every notebook; fix() sets what can be set
  mechanically (the badge, slide types);
- execute(): run a notebook top to bottom on CPU and save it, its recorded results as the new references;
- spread(): run notebooks under other numeric paths and set their results' tolerances from the differences.
"""

import json
import os
import re
import tempfile
import time
from pathlib import Path

from . import SETUP_CELL, badge

MAX_CODE_LINES = 30  # a code cell must fit on a slide
# --- conventions --------------------------------------------------------------------------------

REQUIRED_SECTIONS = ("What can go wrong", "Exercises", "Summary")


def slide_type(cell) -> str:
    """Default slide type from the cell: a level-1/2 heading starts a slide, level 3 a sub-slide."""
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if re.match(r"#{1,2} ", first):
            return "slide"
        if first.startswith("### "):
            return "subslide"
        return "-"
    return "skip" if cell.source == SETUP_CELL else "-"


def fix(nb, path: Path) -> None:
    """Set what can be set mechanically: the badge in the header cell, the setup cell (an older version of it is
    replaced by SETUP_CELL), missing slide types; drop authoring tools' metadata (jupytext)."""
    nb.metadata.pop("jupytext", None)
    header = nb.cells[0]
    header.source = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", badge(path), header.source)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if code and code[0].source.startswith(SETUP_CELL.split("\n", 1)[0]):
        code[0].source = SETUP_CELL
    for cell in nb.cells:
        cell.metadata.setdefault("slideshow", {}).setdefault("slide_type", slide_type(cell))


def check_notebook(nb, path: Path) -> list[str]:
    """Every way a notebook breaks the course's conventions (an empty list when it keeps them all)."""
    problems = []
    header = nb.cells[0]
    number = path.name[:2]
    if header.cell_type != "markdown" or not header.source.startswith(f"# {number} · "):
        problems.append(f"first cell must be the markdown title '# {number} · …'")
    if badge(path) not in header.source:
        problems.append("header lacks the Colab badge (run `python -m lmutils.course fix`)")
    if "Learning goals" not in header.source:
        problems.append("header lacks 'Learning goals'")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or code[0].source != SETUP_CELL:
        problems.append("the first code cell must be lmutils.course.SETUP_CELL, exactly")
    headings = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for section in REQUIRED_SECTIONS:
        if not re.search(rf"^#+ .*{section}", headings, re.M | re.I):
            problems.append(f"no '{section}' section")
    for i, cell in enumerate(nb.cells):
        if "slide_type" not in cell.metadata.get("slideshow", {}):
            problems.append(f"cell {i} has no slide metadata")
        if cell.cell_type == "code" and len(cell.source.splitlines()) > MAX_CODE_LINES:
            problems.append(f"cell {i} has {len(cell.source.splitlines())} lines: split it to fit a slide "
                            f"(at most {MAX_CODE_LINES})")
    counts = [c.execution_count for c in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append("not executed top to bottom in one fresh run (run `python -m lmutils.course execute`)")
    for i, cell in enumerate(nb.cells):
        if any(o.output_type == "error" for o in cell.get("outputs", [])):
            problems.append(f"cell {i} has an error in its saved output")
    from .results import stale_references

    return problems + stale_references(nb, number)


def execute(path: Path, timeout: int = 900, save: bool = True, env: dict | None = None) -> float:
    """Run a notebook top to bottom in a fresh kernel (from its own folder), on CPU, and save it with its
    outputs; its recorded results become the new references (LMUTILS_RESULTS=record). Returns the seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    fix(nb, path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    env = {**os.environ, "LMUTILS_DEVICE": "cpu", "LMUTILS_RESULTS": "record" if save else "", **(env or {})}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            store_widget_state=False, resources={"metadata": {"path": str(path.parent)}})
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as log:
        env.setdefault("LMUTILS_RESULTS_LOG", log.name)
        t0 = time.perf_counter()
        client.execute(env=env)  # the kernel's environment
        seconds = time.perf_counter() - t0
        recorded = {json.loads(line)["name"] for line in log}
    if save:
        nbformat.write(nb, path)
        from . import results  # drop the references of results the notebook no longer records (GPU figures
        # come from `python -m lmutils.course.report`, not from the notebook: they stay)

        number = path.name[:2]
        kept = {k: v for k, v in results.load(number).items() if k in recorded or k.startswith("gpu/")}
        if kept or results.load(number):
            results.save(number, kept)
    return seconds


# Numeric paths that sum floating-point numbers in other orders than the machine that executed the notebooks
# (`make notebooks`: its own vector code and all its cores), as other CPUs do: PyTorch's vector code
# (ATEN_CPU_CAPABILITY), MKL's (MKL_ENABLE_INSTRUCTIONS), one thread instead of several. One thread each, so
# that two run side by side on a two-core machine without slowing each other down.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
NUMERIC_PATHS = {
    "native, 1 thread": ONE_THREAD,
    "avx2, 1 thread": {"ATEN_CPU_CAPABILITY": "avx2", **ONE_THREAD},
    "default, 1 thread": {"ATEN_CPU_CAPABILITY": "default", **ONE_THREAD},
    "default + MKL SSE4.2, 1 thread": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                                       **ONE_THREAD},
}


def spread(paths: list[Path], factor: float = 3.0, floor: float = 1e-4) -> str:
    """Run notebooks under every NUMERIC_PATHS entry (without saving them), and set each recorded result's
    tolerance to `factor` times the largest difference from its reference seen (at least floor·max(1, |v|)).
    Returns the spread table as markdown."""
    from concurrent.futures import ThreadPoolExecutor

    from . import results

    values = {}  # (notebook, metric) -> {path name: value}

    def run(name, path):
        with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as log:
            seconds = execute(path, save=False, env={**NUMERIC_PATHS[name], "LMUTILS_RESULTS_LOG": log.name})
            for line in log:
                r = json.loads(line)
                values.setdefault((path.name[:2], r["name"]), {})[name] = r["value"]
        print(f"{path.name} [{name}]: {seconds:.1f} s", flush=True)

    # one-thread runs two at a time on a two-core machine; $SPREAD_JOBS=1 runs one at a time
    with ThreadPoolExecutor(int(os.environ.get("SPREAD_JOBS", 2))) as pool:
        for job in [pool.submit(run, name, path) for name in NUMERIC_PATHS for path in paths]:
            job.result()
    rows = ["| notebook | metric | reference | largest difference | tol |", "|---|---|---|---|---|"]
    for number in sorted({n for n, _ in values}):
        recorded = results.load(number)
        for (n, metric), seen in sorted(values.items()):
            if n != number or metric not in recorded:
                continue
            ref = recorded[metric]["value"]
            diff = max(abs(v - ref) for v in seen.values())
            recorded[metric]["tol"] = float(f"{max(factor * diff, floor * max(1.0, abs(ref))):.2g}")
            rows.append(f"| {number} | {metric} | {ref:.6g} | {diff:.2g} | {recorded[metric]['tol']:.2g} |")
        results.save(number, recorded)
    return "\n".join(rows)
