"""A real browser: JupyterLab on localhost, notebook 01 in headless Chromium, Run All, and the widget works."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from chromium import browser, is_blank, watch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_a_single_neuron.ipynb"
TOKEN = "course-browser-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(folder: Path, log: Path):
    """JupyterLab serving `folder` on 127.0.0.1 with a token, its configuration and state in `folder`'s parent;
    stopped (kernels included) afterwards."""
    port, home = free_port(), folder.parent
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    # Nothing that calls the internet (update check, news, extensions from PyPI) and nothing the test does not need
    # (language servers, terminals, the build check): a faster start.
    config = {"ServerApp": {"jpserver_extensions": {"jupyter_lsp": False, "jupyter_server_terminals": False}},
              "LabApp": {"check_for_updates_class": "jupyterlab.NeverCheckForUpdate", "news_url": None,
                         "extension_manager": "readonly"}}
    files = {"config/jupyter_server_config.json": config,
             "config/labconfig/page_config.json": {"buildCheck": False, "buildAvailable": False},
             "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"}}
    for name, content in files.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(json.dumps(content))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}"]
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_all_and_check_widget(notebook: Path, tmp_path: Path) -> Path:
    """Open a copy of `notebook` in JupyterLab in Chromium, run all cells, check every cell ran without error and
    the first widget renders and answers a key press; returns the screenshot."""
    folder = tmp_path / "notebooks"  # a copy: the browser never writes to the committed notebooks
    shutil.copytree(notebook.parent, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    with jupyter_lab(folder, tmp_path / "jupyterlab.log") as url, browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        seen = watch(page)
        page.goto(f"{url}/lab/tree/{notebook.name}?token={TOKEN}&reset")
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
        # run only once the kernel is up: widgets that arrive earlier have no widget manager to render them
        page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for(timeout=60_000)
        menu = lambda *path: [page.get_by_role("menuitem", name=name, exact=True).click() for name in path]  # noqa: E731
        menu("Edit", "Clear Outputs of All Cells")  # the saved outputs and counts go: what follows is this run's
        page.wait_for_function("() => ![...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
                               ".some(e => /\\d/.test(e.textContent))")
        menu("Run", "Run All Cells")
        page.wait_for_function(
            """() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
                       return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }""",
            timeout=180_000, polling=500)

        outputs = "\n".join(page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts())
        assert "Error displaying widget" not in outputs and "Traceback" not in outputs
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        # interactive_figure's widget
        widget = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-slider):has(img)").first
        widget.scroll_into_view_if_needed()
        slider = widget.locator(".widget-slider").first
        assert slider.is_visible() and widget.locator("img").first.is_visible()

        picture = widget.locator("img").first.get_attribute("src")
        label = slider.locator(".widget-readout").inner_text()
        slider.locator(".noUi-handle").focus()  # ipywidgets 8 sliders move one step per arrow key
        page.keyboard.press("ArrowRight")
        page.wait_for_function("([img, src]) => img.getAttribute('src') !== src",  # the kernel redrew the figure
                               arg=[widget.locator("img").first.element_handle(), picture], timeout=30_000)
        assert slider.locator(".widget-readout").inner_text() != label
        page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for(timeout=30_000)
        widget.evaluate("e => e.scrollIntoView({block: 'start'})")
        shot = tmp_path / "notebook-widget.png"
        page.screenshot(path=str(shot))
        assert not is_blank(shot)
        assert [e for e in seen["errors"] if "widget" in e.lower()] == []
        badge = "https://colab.research.google.com/assets/colab-badge.svg"  # a picture: offline, it stays blank
        remote = [u for u in seen["requests"] if not u.startswith((url, "data:", "blob:")) and u != badge]
        assert remote == [], f"the notebook page asked the network for {remote}"
    return shot


def test_notebook_01_runs_in_jupyterlab_in_chromium_and_its_widget_renders(tmp_path):
    if not NOTEBOOK.exists():
        pytest.fail(f"{NOTEBOOK.relative_to(ROOT)} is missing")
    t0 = time.perf_counter()
    shot = run_all_and_check_widget(NOTEBOOK, tmp_path)
    print(f"browser test: {time.perf_counter() - t0:.1f} s, screenshot {shot}")
