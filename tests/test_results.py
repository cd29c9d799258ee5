"""Recorded results (lmutils.course.results): a value within its tolerance passes, one outside fails, a missing
reference fails, and the test run of a notebook fails in both cases while a changed exact output fails too."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch

from lmutils.course import results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def notebook_99(tmp_path, monkeypatch):
    """A fake course root with notebooks/99_test.ipynb and its results file."""
    (tmp_path / "notebooks" / "results").mkdir(parents=True)
    (tmp_path / "notebooks" / "99_test.ipynb").write_text("{}")
    (tmp_path / "notebooks" / "results" / "99_test.json").write_text(
        json.dumps({"val_loss/x": {"value": 1.5, "tol": 0.01}}))
    monkeypatch.setattr(results, "results_dir", lambda: tmp_path / "notebooks" / "results")
    results.set_notebook("99", "cpu")
    yield tmp_path / "notebooks" / "results" / "99_test.json"
    results.set_notebook(None, "cpu")


def test_inside_the_tolerance_passes_and_shows_the_reference(notebook_99, monkeypatch, capsys):
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    assert results.record("val_loss/x", 1.505) == 1.505
    assert capsys.readouterr().out == "val_loss/x = 1.5050 (reference 1.5000 ± 0.01 on CPU)\n"


def test_outside_the_tolerance_fails_the_test_run_and_warns_a_student(notebook_99, monkeypatch, capsys):
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    with pytest.raises(results.ResultOutsideTolerance, match="outside its reference"):
        results.record("val_loss/x", 1.52)
    with pytest.raises(results.ResultOutsideTolerance):
        results.record("val_loss/x", float("nan"))
    monkeypatch.delenv("LMUTILS_RESULTS")
    results.record("val_loss/x", 1.52)  # a student: told, not stopped
    assert "outside the range seen across CPUs" in capsys.readouterr().out


def test_size_and_time_are_stored_for_the_scoreboard_and_never_compared(notebook_99, monkeypatch):
    monkeypatch.setenv("LMUTILS_RESULTS", "record")
    results.record("val_loss/x", 1.5, params=1234, seconds=61.27)
    assert json.loads(notebook_99.read_text())["val_loss/x"] == {"value": 1.5, "tol": 0.01, "params": 1234,
                                                                  "seconds": 61.3}
    assert results.scoreboard() == [("99", "x", 1.5, 1234, 61.3)]
    assert results.scoreboard(before="99") == []
    assert "| 99 | x | 1,234 | 61 s | 1.5000 |" in results.scoreboard_markdown(before="999")
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    results.record("val_loss/x", 1.505, params=99, seconds=1.0)  # another machine's time: not a failure


def test_record_takes_a_tensor_that_requires_grad_without_a_warning(notebook_99, monkeypatch, recwarn):
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    assert results.record("val_loss/x", torch.tensor(1.5, requires_grad=True) * 1) == 1.5
    assert not [w for w in recwarn if "requires_grad" in str(w.message)]


def test_a_metric_without_reference_fails_the_test_run(notebook_99, monkeypatch):
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    with pytest.raises(results.ResultOutsideTolerance, match="no reference"):
        results.record("val_loss/new", 2.0)


def test_record_mode_writes_the_value_and_keeps_the_tolerance(notebook_99, monkeypatch):
    monkeypatch.setenv("LMUTILS_RESULTS", "record")
    results.record("val_loss/x", 1.7)
    results.record("val_loss/new", 2.0)
    saved = json.loads(notebook_99.read_text())
    assert saved["val_loss/x"] == {"value": 1.7, "tol": 0.01}
    assert saved["val_loss/new"]["value"] == 2.0


def test_on_a_gpu_the_cpu_reference_is_not_compared(notebook_99, monkeypatch, capsys):
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    results.set_notebook("99", "cuda")
    results.record("val_loss/x", 1.3)
    assert capsys.readouterr().out == ("val_loss/x = 1.3000 (trained at GPU sizes: the course's CPU reference "
                                       "does not apply)\n")


def test_on_apple_mps_the_cpu_sizes_ran_and_the_reference_is_shown_not_checked(notebook_99, monkeypatch, capsys):
    """MPS runs the CPU sizes (lmutils.device.size_column), on a GPU's arithmetic: "trained at GPU sizes" is wrong."""
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    results.set_notebook("99", "mps")
    assert results.record("val_loss/x", 1.53) == 1.53  # outside the CPU tolerance: no error
    results.record("val_loss/new", 2.0)  # no reference yet: no error either
    out = capsys.readouterr().out.splitlines()
    assert out == ["val_loss/x = 1.5300 (reference 1.5000 ± 0.01 on CPU; the CPU sizes ran on mps, whose sums "
                   "differ a little from a CPU's)",
                   "val_loss/new = 2.0000 (the CPU sizes ran on mps, whose sums differ a little from a CPU's)"]


def test_compare_passes_within_tolerance_and_fails_outside(capsys):
    a = torch.randn(4, 5)
    results.compare(a, a + 1e-7, "ours vs theirs")
    assert capsys.readouterr().out == "✓ ours vs theirs: equal within atol 1e-05, rtol 1e-05\n"
    with pytest.raises(AssertionError, match="ours vs theirs: not equal"):
        results.compare(a, a + 1e-3, "ours vs theirs")


def test_check_sample_catches_foreign_characters_and_a_wrong_length(monkeypatch):
    monkeypatch.setenv("LMUTILS_RESULTS", "check")
    assert results.check_sample("s", "abba", "ab", length=4) == "abba"
    with pytest.raises(results.ResultOutsideTolerance, match="outside the vocabulary"):
        results.check_sample("s", "abc", "ab")
    with pytest.raises(results.ResultOutsideTolerance, match="expected 5"):
        results.check_sample("s", "abba", "ab", length=5)


def test_the_readme_shows_the_scoreboard_of_the_results_files():
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- scoreboard -->\n")[1].split("<!-- /scoreboard -->")[0].strip()
    assert shown == results.scoreboard_markdown(), \
        "README's scoreboard is stale: paste the output of `python -m lmutils.course scoreboard` between its markers"
    assert all(row[3] is not None for row in results.scoreboard("09") if row[1] not in results.COUNTING), \
        "a trained model's val_loss is recorded without params= and seconds="


def test_every_results_file_is_well_formed():
    for path in sorted((ROOT / "notebooks" / "results").glob("*.json")):
        assert (ROOT / "notebooks" / f"{path.stem}.ipynb").exists(), f"{path.name} has no notebook"
        for name, entry in json.loads(path.read_text()).items():
            assert {"value", "tol"} <= set(entry) <= {"value", "tol", *results.ABOUT}, (path.name, name)
            assert entry["tol"] >= 0, (path.name, name)


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_reference_printed_in_a_notebook_matches_its_results_file(path):
    nb = nbformat.read(path, as_version=4)
    assert results.stale_references(nb, path.name[:2]) == []


def test_a_stale_printed_reference_is_found():
    path = ROOT / "notebooks" / "02_gradient_descent_and_backprop.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert results.stale_references(nb, "02") == []
    output = next(o for c in nb.cells for o in c.get("outputs", []) if results.PRINTED.search(o.get("text", "")))
    m = results.PRINTED.search(output.text)
    ref = results.load("02")[m["name"]]
    printed = f"(reference {m['value']} ± {m['tol']} on CPU)"
    for stale in (f"(reference {m['value']} ± {ref['tol'] / 100:.2g} on CPU)",            # an old tolerance
                  f"(reference {ref['value'] + 0.01:.4f} ± {m['tol']} on CPU)"):          # an old value
        output.text = output.text.replace(printed, stale)
        problems = results.stale_references(nb, "02")
        assert len(problems) == 1 and m["name"] in problems[0] and "re-execute" in problems[0], problems
        output.text = output.text.replace(stale, printed)
    assert results.stale_references(nb, "02") == []
    gone = {k: v for k, v in results.load("02").items() if k != m["name"]}
    assert "lacks" in results.stale_references(nb, "02", recorded=gone)[0]


def _lesson(tmp_path, value: float, exact: str, picture: bool = False) -> Path:
    """A one-cell notebook with committed outputs: a recorded value, an exact line (and a picture)."""
    nb = nbformat.v4.new_notebook()
    code = textwrap.dedent(f"""\
        from pathlib import Path
        from lmutils.course import results
        results.results_dir = lambda: Path({str(tmp_path)!r}) / "notebooks" / "results"
        results.set_notebook("99", "cpu")
        results.record("val_loss/x", {value})
        print({exact!r})""")
    cell = nbformat.v4.new_code_cell(code, execution_count=1, outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="val_loss/x = 1.5000 (reference 1.5000 ± 0.01 on CPU)\nshape (4, 5)\n")])
    if picture:
        cell.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                                         "text/plain": "<Figure>"}))
        cell.metadata["tags"] = ["nbval-ignore-output"]  # where nbval itself looks at no output
    nb.cells = [cell]
    (tmp_path / "notebooks" / "results").mkdir(parents=True, exist_ok=True)
    (tmp_path / "notebooks" / "results" / "99_test.json").write_text(
        json.dumps({"val_loss/x": {"value": 1.5, "tol": 0.01}}))
    path = tmp_path / "notebooks" / "99_test.ipynb"
    nbformat.write(nb, path)
    return path


def _nbval(path) -> subprocess.CompletedProcess:
    """`make test` on that notebook: the project's pytest options and conftest.py, nothing inherited."""
    shutil.copy(ROOT / "conftest.py", path.parent / "conftest.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMUTILS_")}
    return subprocess.run([sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, cwd=ROOT, env=env)


@pytest.mark.parametrize("value, exact, passes", [
    (1.505, "shape (4, 5)", True),     # another CPU: a little off, within the tolerance
    (1.6, "shape (4, 5)", False),      # a result that really changed
    (1.5, "shape (4, 6)", False),      # a hardware-independent output that changed
], ids=["within-tolerance", "value-outside-tolerance", "exact-output-changed"])
def test_the_notebook_test_run_has_teeth(tmp_path, value, exact, passes):
    run = _nbval(_lesson(tmp_path, value, exact))
    assert (run.returncode == 0) == passes, run.stdout[-3000:]


def test_a_cell_that_committed_a_picture_must_still_draw_one(tmp_path):
    run = _nbval(_lesson(tmp_path, 1.5, "shape (4, 5)", picture=True))
    assert run.returncode != 0 and "fewer pictures" in run.stdout, run.stdout[-3000:]
