"""`make slides`: one self-contained reveal.js deck per notebook, that renders offline in headless Chromium."""

import base64
import io
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from chromium import browser, is_blank, watch
from lmutils import course
from lmutils.course import notebook, slides

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
VIEW = {"width": 1280, "height": 720}
LONG_CODE = "\n".join([f"x{i} = {i} * {i}  # line {i}" for i in range(notebook.MAX_CODE_LINES - 1)] + ["print(x0)"])


def png(width_in, height_in) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=100)
    ax.plot([0, 1, 2], [0, 1, 4], lw=6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def lesson(folder: Path) -> Path:
    """A small executed notebook with what a deck must show: equations, code, text output, a big picture,
    a sub-slide with the longest code cell allowed, and a picture on the web."""
    nb = new_notebook()
    code = new_code_cell("def neuron(x, w, b):\n    return torch.sigmoid(x @ w + b)\n\nprint(neuron(x, w, b))",
                         execution_count=2, outputs=[new_output("stream", name="stdout", text="tensor([0.6106])\n")])
    figure = {"image/png": png(16, 12), "text/plain": "<Figure size 1600x1200 with 1 Axes>"}
    picture = new_code_cell("plt.plot(x, y)\nplt.show()", execution_count=3,
                            outputs=[new_output("display_data", data=figure)])
    nb.cells = [
        new_markdown_cell(f"# 98 · A test lesson\n\n{course.badge('98_a_test_lesson.ipynb')}\n\n"
                          "**Learning goals**\n- slides"),
        new_code_cell(course.SETUP_CELL, execution_count=1),
        new_markdown_cell("## A neuron\nIt weighs its inputs $x_i$ by $w_i$:\n"
                          "$$y = \\sigma\\Big(\\sum_i w_i x_i + b\\Big)$$"),
        code,
        new_markdown_cell("## A big picture\n![logo](https://example.org/logo.png)"),
        picture,
        new_markdown_cell("### The longest code cell allowed"),
        new_code_cell(LONG_CODE, execution_count=4, outputs=[new_output("stream", name="stdout", text="0\n")]),
        new_markdown_cell("## Summary\n$$\\begin{aligned} h_t &= \\tanh(W_{hh} h_{t-1} + W_{xh} x_t) \\end{aligned}$$"),
    ]
    path = folder / "98_a_test_lesson.ipynb"
    nbformat.write(nb, path)
    return path


class Resources(HTMLParser):
    """Every URL a page would load by itself (scripts, styles, pictures, frames), not the links one clicks."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def loaded_urls(html: str) -> list[str]:
    parser = Resources()
    parser.feed(html)
    return [u for u in parser.urls if not u.startswith("data:")]


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    """`make slides` on every notebook, plus the test lesson; returns the output folder."""
    out = tmp_path_factory.mktemp("slides")
    notebooks = [*NOTEBOOKS, lesson(tmp_path_factory.mktemp("lesson"))]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lmutils.course.slides", *map(str, notebooks), "--out", str(out)],
                   check=True, cwd=ROOT, capture_output=True, text=True)
    print(f"built {len(notebooks)} decks in {time.perf_counter() - t0:.1f} s")
    return out


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def open_deck(chromium, deck: Path, hash_: str = ""):
    page = chromium.new_page(viewport=VIEW)
    seen = watch(page)
    page.goto(f"{deck.as_uri()}?transition=none{hash_}")
    page.wait_for_selector("body[data-slides-ready]", timeout=30_000)
    return page, seen


def assert_offline_and_clean(seen, deck: Path):
    remote = [u for u in seen["requests"] if not u.startswith(("file:", "data:", "blob:"))]
    assert remote == [], f"{deck.name} asks the network for {remote}"
    assert seen["failed"] == [] and seen["errors"] == []


def test_offline_drops_the_colab_badge_and_links_pictures_on_the_web(tmp_path, capsys):
    nb = nbformat.read(lesson(tmp_path), as_version=4)
    slides.offline(nb, tmp_path / "98_a_test_lesson.ipynb")
    assert "colab-badge.svg" not in nb.cells[0].source and "Learning goals" in nb.cells[0].source
    assert "[logo](https://example.org/logo.png)" in nb.cells[4].source
    assert "https://example.org/logo.png is on the web" in capsys.readouterr().err
    assert nb.cells[1].metadata["slideshow"]["slide_type"] == "skip"  # the setup cell


def test_make_slides_writes_one_self_contained_deck_per_notebook(decks):
    names = {p.stem for p in NOTEBOOKS} | {"98_a_test_lesson"}
    assert {p.stem for p in decks.glob("*.html")} == names | {"index"}
    index = (decks / "index.html").read_text(encoding="utf-8")
    for name in names:
        html = (decks / f"{name}.html").read_text(encoding="utf-8")
        assert loaded_urls(html) == [], f"{name}.html loads files: it must work alone, offline"
        assert "url(http" not in html and "@import" not in html
        assert 'class="reveal"' in html and "Reveal.initialize" in html and "renderMathInElement" in html
        assert f'href="{name}.html"' in index


def test_cli_says_what_is_wrong(tmp_path):
    assert slides.main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path)]) == 2


def test_deck_renders_equations_code_and_pictures_offline(chromium, decks, tmp_path):
    """The screenshot test: the slide with an equation and a code cell, in headless Chromium, from file://."""
    deck = decks / "98_a_test_lesson.html"
    page, seen = open_deck(chromium, deck, "#/1")
    assert page.evaluate("Reveal.isReady() && Reveal.getTotalSlides()") == 5  # title, 2 slides (+1 sub), summary
    slide = page.locator("section.present:not(.stack)")
    assert slide.locator(".katex-display").count() == 1 and slide.locator(".katex").count() == 3
    assert page.locator(".katex-error").count() == 0
    assert "$" not in slide.locator(".jp-RenderedMarkdown").inner_text()
    assert "tensor([0.6106])" in slide.inner_text() and "def neuron" in slide.inner_text()
    shot = tmp_path / "slide-equation-and-code.png"
    page.screenshot(path=str(shot))
    assert not is_blank(shot)

    page.evaluate("Reveal.slide(2, 0)")  # a 1600 x 1200 picture is scaled to fit the slide
    box = page.locator("section.present:not(.stack) img").bounding_box()
    assert box["height"] <= VIEW["height"] * 0.8 and box["y"] + box["height"] <= VIEW["height"]
    assert page.locator("section.present:not(.stack) a[href=\"https://example.org/logo.png\"]").count() == 1

    page.evaluate("Reveal.slide(2, 1)")  # the longest code cell fits, its last line included
    page.screenshot(path=str(tmp_path / "slide-long-code.png"))
    last = page.locator("section.present:not(.stack) .jp-InputArea-editor").get_by_text("print(x0)").bounding_box()
    assert last["y"] + last["height"] <= VIEW["height"]

    assert too_tall(page) == []
    page.evaluate("""() => {  // a summary slide far too long for the screen, even scaled down
      const summary = [...document.querySelectorAll(".reveal .slides section:not(:has(section))")].pop();
      summary.insertAdjacentHTML("beforeend", "<pre>" + "one more line\\n".repeat(60) + "</pre>");
    }""")
    assert [s.split(":")[0] for s in too_tall(page)] == ["3/0"]
    assert_offline_and_clean(seen, deck)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_deck_renders_offline(path, chromium, decks, tmp_path):
    deck = decks / f"{path.stem}.html"
    page, seen = open_deck(chromium, deck)
    nb = nbformat.read(path, as_version=4)
    slides.offline(nb, path)  # as the deck was built: slide types set where missing
    starts = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for c in nb.cells)
    assert page.evaluate("Reveal.getTotalSlides()") == starts
    assert page.locator(".katex-error").count() == 0
    if any("$" in c.source for c in nb.cells if c.cell_type == "markdown"):
        assert page.locator(".katex").count() > 0
    assert "$$" not in page.locator(".reveal .slides").inner_text()
    with_math = page.locator("section:not(:has(section)):has(.katex-display):has(.jp-CodeCell)")
    if with_math.count():
        index = page.evaluate("s => Reveal.getIndices(s)", with_math.first.element_handle())
        page.evaluate(f"Reveal.slide({index['h']}, {index.get('v') or 0})")
    shot = tmp_path / f"{path.stem}.png"
    page.screenshot(path=str(shot))
    assert not is_blank(shot)
    assert too_tall(page) == [], f"{path.name}: slides that would scroll even scaled down; split them into sub-slides"
    assert_offline_and_clean(seen, deck)


def too_tall(page) -> list[str]:
    """Visit every slide (course.js fits each as it is shown) and name those that still need a scroll bar."""
    return page.evaluate("""() => {
      const tall = [];
      for (const s of document.querySelectorAll(".reveal .slides section:not(:has(section))")) {
        const i = Reveal.getIndices(s);
        Reveal.slide(i.h, i.v || 0);
        if (s.classList.contains("scrolls")) tall.push(`${i.h}/${i.v || 0}: ${s.innerText.slice(0, 40)}`);
      }
      return tall;
    }""")
