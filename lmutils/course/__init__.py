"""The course's machinery (what runs the notebooks, not what they teach), and what every notebook starts with.

- REPO_URL: the repository the Colab badges and the Colab install point to (change it here for a fork,
  then run `python -m lmutils.course fix notebooks/*.ipynb`); badge(), colab_url().
- SETUP_CELL: the first code cell of every notebook (installs lmutils and the data on Colab, else nothing).
- start(): the second code cell's call (seed, plot style, Colab widgets, device).

The rest, one job a module: notebook (the conventions; check, fix, execute, spread), results (recorded results),
sizes (each notebook's sizes by device), checks (exercise checkers), plot, widgets, slides, race and report
(measurements), and `python -m lmutils.course` (__main__: the authors' commands; --help lists them).
"""

from pathlib import Path

REPO_URL = "https://github.com/neuron-to-gpt/neuron-to-gpt"
BRANCH = "main"

# $LMUTILS_INSTALL_SOURCE replaces the git URL (the Colab-like test, .ci/colab_like.sh, installs a built wheel).
SETUP_CELL = f'''\
# Setup: on Colab, install the course package and its data; elsewhere, do nothing.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("lmutils") is None:
    if "google.colab" not in sys.modules:
        raise ModuleNotFoundError("lmutils is not installed in this kernel: open the course with `make lab` "
                                  "(see the README), or run `pip install -e .` in the repository")
    source = os.environ.get("LMUTILS_INSTALL_SOURCE", "lmutils @ git+{REPO_URL}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
    importlib.invalidate_caches()  # so that this kernel finds the package it has just installed'''


def colab_url(notebook: str | Path) -> str:
    return f"https://colab.research.google.com/github/{REPO_URL.removeprefix('https://github.com/')}/blob/{BRANCH}/notebooks/{Path(notebook).name}"


def badge(notebook: str | Path) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"


def start(notebook: str | None = None, seed: int = 0, device=None):
    """Seed everything, set the course's plot style, enable widgets on Colab, pick the device and say which.
    `notebook` ("04") is the notebook's number, for its recorded results (lmutils.course.results).
    Returns the torch.device."""
    from ..device import describe, in_colab, pick_device, seed_everything
    from .plot import use_course_style
    from .results import set_notebook

    seed_everything(seed)
    use_course_style()
    if in_colab():
        from google.colab import output  # ipywidgets 8 needs Colab's custom widget manager
        output.enable_custom_widget_manager()
    device = pick_device(device)
    set_notebook(notebook, device)
    print(f"device: {describe(device)}")
    return device
