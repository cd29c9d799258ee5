"""ruff check is clean over the package, the tests and the notebooks (the rules: pyproject.toml's [tool.ruff])."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff() -> list[str]:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: it is in the dev extras (pip install -e '.[dev]', or make test)")
    return [found]


def test_ruff_check_is_clean():
    run = subprocess.run(ruff() + ["check", "lmutils", "tests", "notebooks"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_ruff_sees_a_long_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = '" + "a" * 130 + "'\n")
    run = subprocess.run(ruff() + ["check", "--config", str(ROOT / "pyproject.toml"), str(bad)], capture_output=True,
                         text=True)
    assert run.returncode == 1 and "E501" in run.stdout
