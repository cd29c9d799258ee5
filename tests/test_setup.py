"""The set-up files agree with each other: pyproject.toml, environment.yml, Makefile, README, CI."""

import os
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement(spec):
    name, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([\d.]+)", spec).groups()
    return CONDA_NAMES.get(name.lower(), name.lower()), floor


def test_environment_yml_matches_pyproject():
    project = pyproject()["project"]
    wanted = dict(requirement(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"])
    conda = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.fullmatch(r"  - ([A-Za-z0-9_.-]+)>=([\d.]+)", line)
        if m:
            conda[m.group(1)] = m.group(2)
    assert conda == wanted


def test_torch_is_a_floor_in_the_package_and_pinned_locally():
    deps = pyproject()["project"]["dependencies"]
    assert any(re.fullmatch(r"torch>=[\d.]+", d) for d in deps)
    assert "TORCH ?= torch==2.13.0" in (ROOT / "Makefile").read_text()


def test_make_lab_starts_jupyter_also_as_root():
    # Jupyter refuses to run as root without --allow-root; containers and cloud machines often are root.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # under `make test`
    out = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    command = [line for line in out.splitlines() if "jupyter" in line][-1]
    assert command.startswith(".venv/bin/jupyter lab") and command.endswith("notebooks/")
    assert ("--allow-root" in command) == (os.getuid() == 0)


def test_readme_gives_the_two_commands_first_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "lab"], ["make", "test"]]
    assert readme.index("make lab") < readme.index("conda env create") < readme.index("Colab**")
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_wheel_carries_every_folder_the_notebooks_read():
    from lmutils.files import FOLDERS

    cfg = pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert cfg == {folder: f"lmutils/shipped/{kind}" for kind, folder in FOLDERS.items()}


def test_ci_runs_the_notebooks_again_as_colab_does():
    """CI's second pass: a wheel, installed by the notebooks' own setup cell (LMUTILS_INSTALL_SOURCE) into a fresh
    environment, the notebooks in a folder of their own, on another numeric path."""
    ci, script = (ROOT / ".ci" / "run").read_text(), (ROOT / ".ci" / "colab_like.sh").read_text()
    assert ".ci/colab_like.sh" in ci and os.access(ROOT / ".ci" / "colab_like.sh", os.X_OK)
    for needed in ("pip wheel", "-m venv", "LMUTILS_INSTALL_SOURCE=", "IPYTHONDIR=", "import google.colab",
                   "ATEN_CPU_CAPABILITY=default", "MKL_ENABLE_INSTRUCTIONS=SSE4_2", "OMP_NUM_THREADS=1", "-n 2"):
        assert needed in script, needed
    from lmutils.course import SETUP_CELL

    assert 'os.environ.get("LMUTILS_INSTALL_SOURCE"' in SETUP_CELL
