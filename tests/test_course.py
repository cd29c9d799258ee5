"""The notebook conventions (lmutils.course) and the Colab set-up cell, simulated."""

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
import types
import zipfile
from pathlib import Path

import nbformat
import pytest

from lmutils import course
from lmutils.course import notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_keeps_the_course_conventions(path):
    assert notebook.check_notebook(nbformat.read(path, as_version=4), path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_links_each_notebook_and_its_badge(path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"(notebooks/{path.name})" in readme
    assert course.badge(path) in readme


def test_check_notebook_finds_broken_conventions(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 07 · Title\n\nno badge"),
                nbformat.v4.new_code_cell("print(1)\n" * 40)]
    problems = notebook.check_notebook(nb, tmp_path / "07_title.ipynb")
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
    notebook.fix(nb, path)
    assert course.badge(path) in nb.cells[0].source
    assert [c.metadata.slideshow["slide_type"] for c in nb.cells] == ["slide", "skip", "subslide", "-"]


def run_setup_cell(monkeypatch, colab: bool, installed: bool):
    """Execute the notebooks' first cell with Colab and the package faked; returns the commands it ran."""
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: ran.append(cmd))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (real(name, *a) if installed else None) if name == "lmutils" else
                        real(name, *a))
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
    monkeypatch.delenv("LMUTILS_INSTALL_SOURCE", raising=False)  # unset on Colab
    (cmd,) = run_setup_cell(monkeypatch, colab=True, installed=False)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert cmd[-1] == f"lmutils @ git+{course.REPO_URL}"


def test_setup_cell_installs_what_lmutils_install_source_names(monkeypatch, tmp_path):
    """The Colab-like test (.ci/colab_like.sh) runs the install branch offline, on a wheel it has built."""
    wheel = str(tmp_path / "lmutils-0.1.0-py3-none-any.whl")
    monkeypatch.setenv("LMUTILS_INSTALL_SOURCE", wheel)
    (cmd,) = run_setup_cell(monkeypatch, colab=True, installed=False)
    assert cmd == [sys.executable, "-m", "pip", "install", "-q", wheel]


def test_fix_brings_an_older_setup_cell_up_to_date(tmp_path):
    path = tmp_path / "01_x.ipynb"
    old = "# Setup: on Colab, install the course package and its data; elsewhere, do nothing.\nimport sys"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · x"), nbformat.v4.new_code_cell(old),
                                         nbformat.v4.new_code_cell("# Setup of something else")])
    notebook.fix(nb, path)
    assert nb.cells[1].source == course.SETUP_CELL and nb.cells[2].source == "# Setup of something else"


def test_setup_cell_explains_a_missing_package_elsewhere(monkeypatch):
    with pytest.raises(ModuleNotFoundError, match="make lab"):
        run_setup_cell(monkeypatch, colab=False, installed=False)


def test_colab_urls_point_at_the_repository():
    assert course.colab_url("notebooks/01_a_single_neuron.ipynb") == (
        "https://colab.research.google.com/github/neuron-to-gpt/neuron-to-gpt/blob/main/notebooks/01_a_single_neuron.ipynb")


# --- Colab: open from the badge, install what is missing, pick the GPU; nothing else needs a network ------------

def test_the_install_target_is_the_projects_repository():
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Homepage"] == course.REPO_URL
    assert f"lmutils @ git+{course.REPO_URL}" in course.SETUP_CELL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_on_colab_and_starts_on_its_device(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.nbformat == 4 and nb.metadata.get("kernelspec", {}).get("name") == "python3"  # Colab: python3 only
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert re.search(r"^device = start\(", code[1], re.M), \
        "the second code cell must pick the device: device = start(seed=0)"


def test_start_on_colab_with_a_gpu_enables_widgets_and_picks_cuda(monkeypatch, capsys):
    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    import torch
    from lmutils import device as dev

    monkeypatch.delenv("LMUTILS_DEVICE", raising=False)  # the test suite's own choice (conftest.py): CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: None)
    monkeypatch.setattr(dev, "describe", lambda d: "cuda: Tesla T4, 15 GiB")
    assert course.start(seed=0).type == "cuda"
    assert calls == ["widgets"] and "device: cuda: Tesla T4" in capsys.readouterr().out


# Ways code reaches the network: shell escapes and install magics, installers, HTTP clients, model and data-set
# hubs, URLs. Comments do not count (a paper's URL in a comment downloads nothing).
NETWORK = re.compile(r"""^\s*(?:!|%%?(?:pip|conda|mamba|sh|bash|system|sx)\b)|pip['"],\s*['"]install
                     |\b(?:pip|conda|mamba|apt(?:-get)?)\s+install\b|\b(?:import|from)\s+(?:urllib|requests|httpx|aiohttp|socket)\b
                     |\b(?:requests|httpx|urllib\.request)\.\w+\(|\burl(?:open|retrieve)\b|\b(?:wget|curl)\b
                     |torch\.hub|from_pretrained|load_dataset|hf_hub|snapshot_download|https?://""", re.M | re.X)


def network_uses(source: str) -> list[str]:
    code = re.sub(r"(^|\s)#.*", r"\1", source)
    return [m.group(0).strip() for m in NETWORK.finditer(code)]


def test_network_scan_finds_what_it_should():
    for line in ["!pip install x", "%pip install x", "import urllib.request", "requests.get(u)",
                 "torch.hub.load('a', 'b')", "AutoModel.from_pretrained('gpt2')", "!wget https://x/y.txt",
                 "subprocess.run(['pip', 'install', 'x'])", "open_url('https://example.org')", "%%bash\nls"]:
        assert network_uses(line), line
    for line in ["x = 'pip'\nprint(x)  # 100% done", "%timeit f(x)", "# see https://arxiv.org/abs/1706.03762",
                 "rate = 3  # requests per second, curl"]:
        assert network_uses(line) == [], line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_in_the_notebook_needs_a_network_outside_colab(path):
    """Only the setup cell's Colab branch installs anything; every other cell runs offline."""
    nb = nbformat.read(path, as_version=4)
    uses = {i: network_uses(c.source) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and c.source != course.SETUP_CELL}
    assert {i: u for i, u in uses.items() if u} == {}


# The only modules that may reach the network: the Colab install and its URLs, and GPT-2's and SmolLM2's optional
# downloads (notebooks 10 and 11), which check for a network in a second and otherwise say so and use a local
# stand-in (tests/test_hf.py and tests/test_modern.py time the offline paths).
MAY_USE_THE_NETWORK = {ROOT / "lmutils" / "course" / "__init__.py", ROOT / "lmutils" / "hf.py",
                       ROOT / "lmutils" / "hf_llama.py"}


def test_nothing_in_lmutils_needs_a_network():
    """lmutils runs in every notebook: it reads its data from disk."""
    for module in sorted((ROOT / "lmutils").rglob("*.py")):
        if module not in MAY_USE_THE_NETWORK:
            source = re.sub(r'"""[\s\S]*?"""|#.*', "", module.read_text(encoding="utf-8"))  # code, not docs
            assert network_uses(source) == [], module.relative_to(ROOT)


def test_the_wheel_that_colab_installs_carries_the_package_and_the_corpora(tmp_path):
    """What the setup cell's `pip install "lmutils @ git+…"` does on Colab: build a wheel in an isolated build
    environment (hatchling from PyPI), install it, and find the corpora inside the installed package."""
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(ROOT), "-w",
                            str(tmp_path / "dist")], capture_output=True, text=True)
    if build.returncode and "hatchling" in build.stderr and os.environ.get("CI") != "true":
        pytest.skip(f"building the wheel needs hatchling from PyPI, which could not be reached:\n{build.stderr[-500:]}")
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("lmutils-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"lmutils/shipped/data/tinyshakespeare.txt", "lmutils/shipped/data/tang_poems.txt", "lmutils/data.py",
            "lmutils/shipped/data/pretrained/gpt-shakespeare-3x160.ckpt",
            "lmutils/shipped/data/measured/lstm-vs-gpt-cpu.json",
            "lmutils/shipped/results/05_lstm.json", "lmutils/shipped/solutions/nb05.py",
            "lmutils/course/slides_assets/reveal/reveal.js", "lmutils/course/slides_assets/katex/LICENSE",
            "lmutils/course/locale/zh.json", "lmutils/course/fonts/NotoSansCJKsc-course.ttf",
            "lmutils/course/fonts/OFL.txt"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "data/", ".venv/"))]

    site, elsewhere = tmp_path / "site-packages", tmp_path / "colab"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(site), str(wheel)], check=True)
    probe = ("import lmutils, lmutils.data as d; from lmutils.course import results; print(lmutils.__file__); "
             "print(d.data_dir()); print(len(d.load_corpus('shakespeare')), len(d.load_corpus('tang'))); "
             "print(results.load('05')['val_loss/lstm']['value'])")
    env = {k: v for k, v in os.environ.items() if k != "LMUTILS_DATA"} | {"PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    from lmutils.course import results
    from lmutils.data import load_corpus

    assert out[0] == str(site / "lmutils" / "__init__.py")
    assert out[1] == str(site / "lmutils" / "shipped" / "data")
    assert out[2] == f"{len(load_corpus('shakespeare'))} {len(load_corpus('tang'))}"
    assert float(out[3]) == results.load("05")["val_loss/lstm"]["value"]  # notebook 07 reads 05's results


def test_the_authors_command_explains_itself(tmp_path, capsys):
    from lmutils.course.__main__ import COMMANDS, main

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and all(name in out for name in COMMANDS)
    assert main([]) == 2 and "check" in capsys.readouterr().err  # no arguments: the help, not one usage line
    for name in COMMANDS:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0 and COMMANDS[name][:30].lower() in " ".join(capsys.readouterr().out.split()).lower()
    with pytest.raises(SystemExit):
        main(["chek", "x.ipynb"])
    assert "invalid choice: 'chek'" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "missing.ipynb")]) == 1
    err = capsys.readouterr().err
    assert err == f"error: no notebook at {tmp_path / 'missing.ipynb'}\n"
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert main(["fix", str(tmp_path / "broken.ipynb")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'broken.ipynb'} is not a readable notebook")
