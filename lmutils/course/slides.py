"""Slide decks from the notebooks, for presenting offline.

    python -m lmutils.course.slides notebooks/*.ipynb --out build/slides      (what `make slides` runs)

Each `## ` heading starts a slide and `### ` a sub-slide (the cells' slideshow metadata, which
`python -m lmutils.course fix` sets); the setup cell is skipped; outputs are shown as saved in the notebook.
A deck is one self-contained HTML file: reveal.js, KaTeX (for the equations) with its fonts, the styles and
the pictures are all inside it, so it opens from a laptop or a USB stick with no network. reveal.js and
KaTeX (both MIT) are vendored in lmutils/course/slides_assets/ with their licences.
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


def write_index(decks: list[tuple[str, Path]], out_dir: Path) -> Path:
    """A plain page linking every deck."""
    items = "\n".join(f'<li><a href="{d.name}">{html.escape(title)}</a></li>' for title, d in decks)
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Slides</title>\n'
            '<style>body{font:22px/1.5 system-ui,sans-serif;margin:3em auto;max-width:40em}a{color:#1f5fa8}</style>'
            f"</head>\n<body><h1>From a neuron to a GPU language model: slides</h1>\n<ul>\n{items}\n</ul>\n"
            "<p>Arrow keys or space move on; <kbd>F</kbd> goes full screen, <kbd>Esc</kbd> shows every slide.</p>"
            "</body></html>\n")
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
    args.out.mkdir(parents=True, exist_ok=True)
    exporter, assets, decks = make_exporter(), read_assets(), []
    for path in sorted(args.notebooks):
        t0 = time.perf_counter()
        out, title = build_deck(path, args.out, exporter, assets)
        decks.append((title, out))
        print(f"{out}  ({out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    print(f"{write_index(decks, args.out)}  (open it in a browser; no network needed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
