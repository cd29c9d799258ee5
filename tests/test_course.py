"""The notebook conventions (lmutils.course) and the Colab set-up cell, simulated."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lmutils import course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_keeps_the_course_conventions(path):
    assert course.check_notebook(nbformat.read(path, as_version=4), path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_links_each_notebook_and_its_badge(path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"(notebooks/{path.name})" in readme
    assert course.badge(path) in readme


def test_check_notebook_finds_broken_conventions(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 07 · Title\n\nno badge"),
                nbformat.v4.new_code_cell("print(1)\n" * 40)]
    problems = course.check_notebook(nb, tmp_path / "07_title.ipynb")
    text = "\n".join(problems)
    for expected in ("Colab badge", "Learning goals", "SETUP_CELL", "'What can go wrong'", "'Exercises'",
                     "'Summary'", "no slide metadata", "40 lines", "not executed"):
        assert expected in text


def test_fix_sets_badge_and_slides(tmp_path):
    path = tmp_path / "03_x.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 03 · X\n[![Open In Colab](old.svg)](https://old)"),
                nbformat.v4.new_code_cell(course.SETUP_CELL),
                nbformat.v4.new_markdown_cell("### detail"), nbformat.v4.new_code_cell("1")]
    course.fix(nb, path)
    assert course.badge(path) in nb.cells[0].source
    assert [c.metadata.slideshow["slide_type"] for c in nb.cells] == ["slide", "skip", "subslide", "-"]


def run_setup_cell(monkeypatch, colab: bool, installed: bool):
    """Execute the notebooks' first cell with Colab and the package faked; returns the commands it ran."""
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: ran.append(cmd))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (real(name, *a) if installed else None) if name == "lmutils" else real(name, *a))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(course.SETUP_CELL, "setup-cell", "exec"), {})
    return ran


def test_setup_cell_does_nothing_where_lmutils_is_installed(monkeypatch):
    assert run_setup_cell(monkeypatch, colab=False, installed=True) == []
    assert run_setup_cell(monkeypatch, colab=True, installed=True) == []


def test_setup_cell_installs_package_and_data_on_colab(monkeypatch):
    (cmd,) = run_setup_cell(monkeypatch, colab=True, installed=False)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert cmd[-1] == f"lmutils @ git+{course.REPO_URL}"


def test_setup_cell_explains_a_missing_package_elsewhere(monkeypatch):
    with pytest.raises(ModuleNotFoundError, match="make lab"):
        run_setup_cell(monkeypatch, colab=False, installed=False)


def test_colab_urls_point_at_the_repository():
    assert course.colab_url("notebooks/01_a_single_neuron.ipynb") == (
        "https://colab.research.google.com/github/neuron-to-gpt/neuron-to-gpt/blob/main/notebooks/01_a_single_neuron.ipynb")
