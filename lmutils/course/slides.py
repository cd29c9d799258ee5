"""Slide decks from the notebooks, for presenting offline.

    python -m lmutils.course.slides notebooks/*.ipynb notebooks/zh/*.ipynb --out build/slides   (`make slides`)

Each `## ` heading starts a slide and `### ` a sub-slide (the cells' slideshow metadata, which
`python -m lmutils.course fix` sets); the setup cell is skipped; outputs are shown as saved in the notebook.
A deck is one self-contained HTML file: reveal.js, KaTeX (for the equations) with its fonts, the styles and
the pictures are all inside it, so it opens from a laptop or a USB stick with no network. reveal.js and
KaTeX (both MIT) are vendored in lmutils/course/slides_assets/ with their licences. The Chinese notebooks'
decks go to OUT/zh/, with their own index; the two index pages link each other (English | 中文).
"""

import argparse
import base64
import html
import re
import sys
import time
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "slides_assets"
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)[ \t]*\n?")
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((https?://[^)\s]*)[^)]*\)")


def katex_css() -> str:
    """KaTeX's stylesheet with its fonts inlined (woff2 only: every current browser reads it)."""
    css = (ASSETS / "katex" / "katex.min.css").read_text(encoding="utf-8")

    def inline(m):
        font = base64.b64encode((ASSETS / "katex" / "fonts" / m.group(1)).read_bytes()).decode()
        return f'src:url(data:font/woff2;base64,{font}) format("woff2")'

    return re.sub(r'src:url\(fonts/([\w-]+\.woff2)\) format\("woff2"\)[^;}]*', inline, css)


def read_assets() -> dict:
    read = lambda name: (ASSETS / name).read_text(encoding="utf-8")  # noqa: E731
    return {"styles": [read("reveal/reveal.css"), katex_css(), read("course.css")],
            "scripts": [read("reveal/reveal.js"), read("katex/katex.min.js"), read("katex/auto-render.min.js"),
                        read("course.js")]}


def offline(nb, path: Path) -> None:
    """Prepare a notebook for the slides: slide types where missing, no Colab badge (a picture fetched from
    the web), and a link instead of any other picture on the web."""
    from .notebook import fix

    fix(nb, path)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            source = BADGE.sub("", cell.source)
            for _, url in REMOTE_IMAGE.findall(source):
                print(f"{path.name}: the picture {url} is on the web; the slides show a link instead "
                      "(save it next to the notebook to show it offline)", file=sys.stderr)
            cell.source = REMOTE_IMAGE.sub(r"[\1](\2)", source)


def title_of(nb, path: Path) -> str:
    first = nb.cells[0].source.lstrip().split("\n", 1)[0] if nb.cells else ""
    return first.lstrip("# ").strip() or path.stem


def build_deck(path: Path, out_dir: Path, exporter=None, assets=None) -> tuple[Path, str]:
    """Write out_dir/<notebook name>.html; return its path and the notebook's title."""
    import nbformat

    exporter = exporter or make_exporter()
    nb = nbformat.read(path, as_version=4)
    offline(nb, path)
    resources = {"metadata": {"name": path.stem, "path": str(path.parent)},
                 "course": {"title": title_of(nb, path), **(assets or read_assets())}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    out = out_dir / f"{path.stem}.html"
    out.write_text(body, encoding="utf-8")
    return out, resources["course"]["title"]


def make_exporter():
    from nbconvert import SlidesExporter

    return SlidesExporter(template_name="course_reveal", extra_template_basedirs=[str(ASSETS / "templates")],
                          embed_images=True, exclude_input_prompt=True, exclude_output_prompt=True)


INDEX = {  # the index page's words, per language
    "en": ("Slides", "From a neuron to a GPU language model: slides",
           "Arrow keys or space move on; <kbd>F</kbd> goes full screen, <kbd>Esc</kbd> shows every slide."),
    "zh": ("幻灯片", "从神经元到 GPU 语言模型：幻灯片",
           "方向键或空格键翻页；<kbd>F</kbd> 全屏，<kbd>Esc</kbd> 显示所有幻灯片。"),
}


def language_switch(lang: str) -> str:
    """English | 中文, the current language in bold, the other a link to its index."""
    if lang == "en":
        return '<p class="lang"><b>English</b> | <a href="zh/index.html" lang="zh">中文</a></p>'
    return '<p class="lang"><a href="../index.html" lang="en">English</a> | <b>中文</b></p>'


def write_index(decks: list[tuple[str, Path]], out_dir: Path, lang: str = "en", switch: bool = False) -> Path:
    """A plain page linking every deck; `switch`: with a link to the other language's index."""
    items = "\n".join(f'<li><a href="{d.name}">{html.escape(title)}</a></li>' for title, d in decks)
    title, heading, keys = INDEX[lang]
    page = (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>\n'
            '<style>body{font:22px/1.5 system-ui,sans-serif;margin:3em auto;max-width:40em}a{color:#1f5fa8}</style>'
            f"</head>\n<body>{language_switch(lang) if switch else ''}<h1>{heading}</h1>\n<ul>\n{items}\n</ul>\n"
            f"<p>{keys}</p></body></html>\n")
    (out_dir / "index.html").write_text(page, encoding="utf-8")
    return out_dir / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmutils.course.slides", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("build/slides"))
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    exporter, assets, decks = make_exporter(), read_assets(), {"en": [], "zh": []}
    for path in sorted(args.notebooks):  # a Chinese notebook (notebooks/zh/) gets its deck in OUT/zh/
        lang = "zh" if path.parent.name == "zh" else "en"
        out_dir = args.out / "zh" if lang == "zh" else args.out
        out_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        out, title = build_deck(path, out_dir, exporter, assets)
        decks[lang].append((title, out))
        print(f"{out}  ({out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    both = bool(decks["en"]) and bool(decks["zh"])
    for lang in ("en", "zh"):
        if decks[lang]:
            index = write_index(decks[lang], args.out / "zh" if lang == "zh" else args.out, lang, switch=both)
            print(f"{index}  (open it in a browser; no network needed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
