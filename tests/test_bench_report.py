"""`python -m lmutils.course.report` (make gpu-report), on a CPU: a tiny model and notebook 01 only."""

import json
import shutil
from pathlib import Path

from lmutils.course.report import first_reaching, main as report
from lmutils.run import bench_main
from lmutils.train import History

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--device", "cpu", "--allow-cpu", "--tiny", "--preset", "shakespeare-char-cpu", "--no-progress"]


def results_copy(tmp_path) -> Path:
    """A copy of notebook 08's results file, with a stale gpu/ figure that a report must drop."""
    path = tmp_path / "08.json"
    shutil.copy(ROOT / "notebooks" / "results" / "08_training_on_a_gpu.json", path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data | {"gpu/stale": {"value": 1.0, "tol": 0}}))
    return path


def test_report_without_a_gpu_refuses(capsys):
    assert report(["--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "on a GPU" in err and "--allow-cpu" in err
    assert bench_main(["--report"]) == 2  # where the report was: the bench says where it went
    assert "python -m lmutils.course.report" in capsys.readouterr().err


def test_report_on_cpu_writes_gpu_metrics_and_markdown(tmp_path, capsys):
    path, out = results_copy(tmp_path), tmp_path / "report.md"
    before = json.loads(path.read_text())
    assert report(TINY + ["--notebooks", "01", "--no-compile-steps", "20", "--results", str(path),
                              "--out", str(out)]) == 0
    data = json.loads(path.read_text())
    gpu = {k: v for k, v in data.items() if k.startswith("gpu/")}
    assert set(gpu) == {"gpu/val_loss", "gpu/tokens_per_s", "gpu/peak_memory_gib", "gpu/tokens_per_s_no_compile",
                        "gpu/notebook_seconds/01", "gpu/modern/val_loss", "gpu/modern/tokens_per_s",
                        "gpu/modern/peak_memory_gib"}  # no MFU on a CPU, 1.47 not reached: left out, not null
    assert all(isinstance(v["value"], float) and v["value"] > 0 and v["tol"] == 0 for v in gpu.values())
    assert 2.0 < gpu["gpu/val_loss"]["value"] < 4.5
    assert {k: v for k, v in data.items() if not k.startswith("gpu/")} == \
        {k: v for k, v in before.items() if k != "gpu/stale"}  # the notebook's own results untouched
    text = out.read_text()
    assert text.startswith("# GPU report: cpu, ") and "| notebook | seconds |" in text
    assert "| 01 | " in text and "| training time to validation loss 1.47 | not reached |" in text
    assert "without torch.compile (first 20 steps)" in text and "Skipped" not in text
    assert "| modern-char: training time to validation loss 1.47 | not reached |" in text
    assert "| notebook | seconds |" in capsys.readouterr().out  # the table is printed too


def test_budget_skips_the_remaining_parts(tmp_path, capsys):
    path, out = results_copy(tmp_path), tmp_path / "report.md"
    assert report(TINY + ["--notebooks", "01,02", "--budget-s", "0", "--results", str(path),
                              "--out", str(out)]) == 0
    assert not [k for k in json.loads(path.read_text()) if k.startswith("gpu/")]  # nothing measured, stale dropped
    text = out.read_text()
    assert "| 01 | skipped (budget) |" in text and "| 02 | skipped (budget) |" in text
    assert "Skipped (budget of 0 s spent): preset shakespeare-char-cpu, " in text
    assert "skipped, the budget of 0 s is spent" in capsys.readouterr().out


def test_first_reaching_the_target():
    h = History(eval_steps=[0, 250, 500], eval_val=[4.2, 1.5, 1.46], eval_seconds=[0.0, 20.0, 41.5])
    assert first_reaching(h, 1.47) == (41.5, 500)
    assert first_reaching(h, 1.0) == (None, None)
