"""Headless Chromium for the browser tests (test_slides.py, test_browser.py), driven by playwright-python.

Debian's /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it), never a browser downloaded by
a test tool. Set $CHROMIUM to use another Chromium or Chrome binary. Without one the tests skip, with a
message, on a laptop; under CI (CI=true) they fail.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

# No sync, no updates, no background calls home: the machine has no network, and a class may have none either.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"]


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}; CI must run the browser tests (.ci/run installs Chromium, `make` installs playwright)")
    pytest.skip(f"{what}; the browser tests need it")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _missing("no Chromium found (install Debian's package: apt-get install chromium, or set $CHROMIUM)")
    return path


@contextmanager
def browser():
    """A fresh headless Chromium (playwright gives it a new, empty profile), closed afterwards."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def watch(page) -> dict:
    """Record what a page asks for and what goes wrong in it."""
    seen = {"requests": [], "failed": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} ({r.failure})"))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    return seen


def is_blank(png: Path) -> bool:
    """True for a screenshot of (almost) one colour: nothing rendered."""
    from PIL import Image

    image = Image.open(png).convert("RGB").resize((320, 180))
    colours = image.getcolors(maxcolors=320 * 180)
    return max(count for count, _ in colours) > 0.98 * 320 * 180 or len(colours) < 16
