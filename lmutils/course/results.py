"""A notebook's recorded results: numbers that depend on the machine's arithmetic, kept with a tolerance.

Floating-point sums are taken in a different order on different CPUs (vector width, thread count, the
BLAS library), so a training loss is bit-exact only on the machine that produced it. A notebook therefore
prints such a number through record(), which shows it beside the course's reference run:

    record("val_loss/rnn", rnn_loss)
    # val_loss/rnn = 1.8415 (reference 1.8415 ± 0.0300 on CPU)

The references live in notebooks/results/<notebook>.json (inside the package in a wheel: lmutils.files) as
{"metric": {"value": v, "tol": t}}, tol absolute, measured across CPUs by `python -m lmutils.course spread`.
What happens depends on $LMUTILS_RESULTS:
  unset    (a student)         show the value and the reference; say so when it is outside the tolerance
  check    (the test suite)    raise when a value is outside its tolerance or has no reference
  record   (`make notebooks`)  write the value as the new reference, keeping the tolerance
$LMUTILS_RESULTS_LOG=path appends every value as a JSON line (what `spread` reads).
A trained model's loss can carry its size and training time, record("val_loss/rnn", loss, params=n,
seconds=s): kept beside the reference for the scoreboard (the seconds of the reference run), never compared.
On a CUDA GPU a notebook trains at other sizes: the CPU references do not apply and are not compared. On Apple MPS
the CPU sizes run (lmutils.device.size_column), with a GPU's arithmetic: the value is shown beside the reference,
not checked against it.
"""

import json
import math
import os
import re
from pathlib import Path

import torch

from ..checkpoint import atomic_file
from ..device import size_column
from ..files import REPO, course_dir
from .i18n import _

DEFAULT_TOL = 1e-6  # until `spread` measures one: a new metric must be measured before it can pass elsewhere

_notebook = None     # "04", set by lmutils.course.start
_device = "cpu"      # the device the notebook runs on: "cpu", "mps" or "cuda"


class ResultOutsideTolerance(AssertionError):
    pass


def set_notebook(number: str | None, device) -> None:
    global _notebook, _device
    _notebook, _device = number, torch.device(device).type


def results_dir() -> Path:
    """notebooks/results/ in a clone, its copy inside the package in a wheel (lmutils.files)."""
    return course_dir("results")


def results_path(number: str) -> Path | None:
    """The results file of notebook `number` ("04"): <notebook stem>.json. A notebook that has recorded nothing
    yet has none: its path then comes from the notebook's name in the repository (None outside one)."""
    folder = results_dir()
    found = sorted(folder.glob(f"{number}_*.json"))
    if found:
        return found[0]
    notebooks = sorted((REPO / "notebooks").glob(f"{number}_*.ipynb"))
    return folder / f"{notebooks[0].stem}.json" if notebooks else None


def load(number: str) -> dict:
    path = results_path(number)
    return json.loads(path.read_text()) if path and path.exists() else {}


def save(number: str, results: dict) -> None:
    with atomic_file(results_path(number)) as f:
        f.write((json.dumps(dict(sorted(results.items())), indent=1) + "\n").encode())


COUNTING = ("unigram", "bigram", "trigram", "5-gram")  # notebook 03's counting models: nothing trained
ABOUT = ("params", "seconds")  # what a recorded loss may carry besides its value and tolerance


def record(name: str, value, fmt: str = ".4f", params: int | None = None, seconds: float | None = None):
    """Show a machine-dependent number beside the course's reference for it; returns the value. params and
    seconds (a trained model's size and CPU training time) are stored with the reference, for scoreboard()."""
    value = float(value.detach()) if torch.is_tensor(value) else float(value)
    mode = os.environ.get("LMUTILS_RESULTS", "")
    if os.environ.get("LMUTILS_RESULTS_LOG"):
        with open(os.environ["LMUTILS_RESULTS_LOG"], "a") as f:
            f.write(json.dumps({"notebook": _notebook, "name": name, "value": value, "cpu": _device == "cpu"}) + "\n")
    if _notebook is None:
        raise RuntimeError("record() needs the notebook's number: start the notebook with start(\"NN\")")
    if size_column(_device) != "cpu":
        print(_("{name} = {value:{fmt}} (trained at GPU sizes: the course's CPU reference does not apply)",
                name=name, value=value, fmt=fmt))
        return value
    results = load(_notebook)
    if _device != "cpu":  # Apple MPS: the CPU sizes with a GPU's arithmetic, shown beside the reference, not checked
        ref = results.get(name)
        if ref:
            print(_("{name} = {value:{fmt}} (reference {ref:{fmt}} ± {tol:.2g} on CPU; the CPU sizes ran on "
                    "{device}, whose sums differ a little from a CPU's)",
                    name=name, value=value, fmt=fmt, ref=ref["value"], tol=ref["tol"], device=_device))
        else:
            print(_("{name} = {value:{fmt}} (the CPU sizes ran on {device}, whose sums differ a little from a CPU's)",
                    name=name, value=value, fmt=fmt, device=_device))
        return value
    if mode == "record":
        results[name] = {"value": value, "tol": results.get(name, {}).get("tol", DEFAULT_TOL)}
        about = {"params": params, "seconds": None if seconds is None else round(float(seconds), 1)}
        results[name].update({k: v for k, v in about.items() if v is not None})
        save(_notebook, results)
    ref = results.get(name)
    if ref is None:
        if mode == "check":
            raise ResultOutsideTolerance(f"{name} has no reference in {results_path(_notebook)}: "
                                         "run `make notebooks`, then `python -m lmutils.course spread`")
        print(f"{name} = {value:{fmt}}")
        return value
    inside = math.isfinite(value) and abs(value - ref["value"]) <= ref["tol"]
    if inside:
        print(_("{name} = {value:{fmt}} (reference {ref:{fmt}} ± {tol:.2g} on CPU)",
                name=name, value=value, fmt=fmt, ref=ref["value"], tol=ref["tol"]))
    else:
        print(_("{name} = {value:{fmt}} (reference {ref:{fmt}} ± {tol:.2g} on CPU: outside the range seen across "
                "CPUs)", name=name, value=value, fmt=fmt, ref=ref["value"], tol=ref["tol"]))
    if not inside and mode == "check":
        raise ResultOutsideTolerance(f"{name} = {value!r} is outside its reference {ref['value']!r} ± {ref['tol']!r} "
                                     f"({results_path(_notebook).name})")
    return value


PRINTED = re.compile(r"(?P<name>\S+) = \S+ \(reference (?P<value>-?[\d.]+) ± (?P<tol>[\d.e+-]+) on CPU")


def stale_references(nb, number: str, recorded: dict | None = None) -> list[str]:
    """Every "(reference X ± t on CPU)" that record() printed into a notebook's saved outputs and that no longer
    matches the notebook's results file (a value or tolerance changed since, or the metric is gone): the saved
    outputs are then stale, and re-executing the notebook (`python -m lmutils.course execute`) renews them."""
    recorded = load(number) if recorded is None else recorded
    problems = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            for m in PRINTED.finditer("".join(text)):
                ref = recorded.get(m["name"])
                decimals = len(m["value"].partition(".")[2])
                if ref is None:
                    problems.append(f"cell {i} prints a reference for {m['name']}, which the results file lacks")
                elif (m["value"], m["tol"]) != (f"{ref['value']:.{decimals}f}", f"{ref['tol']:.2g}"):
                    problems.append(f"cell {i} prints {m['name']}'s reference as {m['value']} ± {m['tol']}, the "
                                    f"results file has {ref['value']:.{decimals}f} ± {ref['tol']:.2g}: re-execute it")
    return problems


def compare(ours, theirs, label: str, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Assert that a from-scratch result equals PyTorch's (or any reference) within a stated tolerance,
    and say so in one line that is the same on every machine."""
    ours, theirs = torch.as_tensor(ours).detach().cpu(), torch.as_tensor(theirs).detach().cpu()
    torch.testing.assert_close(ours, theirs, atol=atol, rtol=rtol, check_dtype=False,
                               msg=lambda m: f"{label}: not equal within atol {atol:g}, rtol {rtol:g}\n{m}")
    print(f"✓ {label}: equal within atol {atol:g}, rtol {rtol:g}")


def check_sample(name: str, text: str, vocab, length: int | None = None) -> str:
    """A sample drawn from a trained model differs between machines; check what does not: its length and
    that every character comes from the vocabulary. Returns the text, unchanged."""
    missing = sorted(set(text) - set(vocab))
    problems = ([f"characters outside the vocabulary: {missing[:10]}"] if missing else []) + \
        ([f"{len(text)} characters, expected {length}"] if length is not None and len(text) != length else [])
    if problems and os.environ.get("LMUTILS_RESULTS") == "check":
        raise ResultOutsideTolerance(f"sample {name}: " + "; ".join(problems))
    return text


def scoreboard(before: str | None = None) -> list[tuple[str, str, float, int | None, float | None]]:
    """Every language model's recorded validation loss across the course (or of the notebooks numbered
    below `before`), from the committed results files: [(notebook, model, nats per character, parameters, CPU
    training seconds of the reference run)], best last (parameters and seconds None where not recorded, e.g.
    for counting models). It can never disagree with the notebooks."""
    rows = []
    for path in sorted(results_dir().glob("*.json")):
        if before is not None and path.stem[:2] >= before:
            continue
        for name, entry in json.loads(path.read_text()).items():
            if name.startswith("val_loss/"):
                rows.append((path.stem[:2], name.removeprefix("val_loss/"), entry["value"], entry.get("params"),
                             entry.get("seconds")))
    return sorted(rows, key=lambda r: -r[2])


def ladder_rows() -> list[tuple[str, str, float, int, float]]:
    """Notebook 11's two full-length runs, from the committed ladder (data/measured/ladder-cpu.json, shown in 11):
    GPT-2's block at the CPU preset's 1,800 steps and the modern block with Muon at equal time, each the mean of
    3 seeds; seconds from the ladder's timing on one quiet core. [] while the ladder is not measured."""
    from .ladder import measured_path, summary

    path = measured_path()
    if not path.is_file():
        return []
    rows = summary(json.loads(path.read_text()))
    first, last = rows[0], rows[-1]
    return [("11", "gpt2-block (ladder, 3 seeds)", first["tokens"][0], first["params"], first["seconds"]),
            ("11", "modern + Muon (ladder, 3 seeds)", last["time"][0], last["params"], last["seconds"])]


def race_rows() -> list[tuple[str, str, float, int, float]]:
    """Notebook 08's race: the LSTM trained for as long as the CPU preset's GPT (1,800 steps each on two cores, the
    mean of 3 seeds, data/measured/lstm-vs-gpt-cpu.json): the LSTM at the GPT's time, on the board beside 05's."""
    from .race import measured_path, summary

    path = measured_path()
    if not path.is_file():
        return []
    lstm = summary(json.loads(path.read_text()))["LSTM"]
    return [("08", f"lstm, {lstm['steps']:,} steps (race, {lstm['loss'][2]} seeds)", lstm["loss"][0], lstm["params"],
             lstm["seconds"])]


def scoreboard_markdown(before: str = "09") -> str:
    """The scoreboard of notebooks before `before` (09 and 10 score other texts and tokens), 08's race and notebook
    11's ladder as a markdown table: what the README shows (tests/test_results.py keeps the two equal)."""
    lines = ["| notebook | model | parameters | CPU training | validation loss |", "|---|---|--:|--:|--:|"]
    rows = scoreboard(before) + race_rows() + ladder_rows()
    for nb, model, loss, params, seconds in sorted(rows, key=lambda r: r[2]):
        lines.append(f"| {nb} | {model} | {'' if params is None else f'{params:,}'} | "
                     f"{'' if seconds is None else f'{seconds:.0f} s'} | {loss:.4f} |")
    return "\n".join(lines)
