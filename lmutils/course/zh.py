"""The Chinese edition (notebooks/zh/), built from the English notebooks and one translation file per notebook:

    notebooks/zh/translations/NN.json = {"notebook": "NN_….ipynb",
                                         "cells": {"<markdown cell id>": {"en": en_hash(English), "zh": "…"}}}

build() copies the English notebook, puts each markdown cell's translation in its place (cell ids, metadata and
slide types kept), points the Colab badge at notebooks/zh/, and changes one code cell: start("NN", …) gets
lang="zh", so that the course's messages come out in Chinese. Every other code cell and every output is the
English one: the Chinese notebook needs no execution of its own and cannot show other results. problems() lists
what keeps a translation from being current and faithful in form (missing or stale cells, numbers, LaTeX, code,
the glossary notebooks/zh/GLOSSARY.md). `python -m lmutils.course translate-status` and `translate-build`.
"""

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

from ..files import REPO
from . import badge

NOTEBOOKS = REPO / "notebooks"
ZH = NOTEBOOKS / "zh"
TRANSLATIONS = ZH / "translations"
GLOSSARY = ZH / "GLOSSARY.md"
START = re.compile(r'(\bstart\("\d\d"[^()\n]*)\)')  # start("04", seed=0): the setup call, one line

FENCE = re.compile(r"```.*?```", re.S)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+?\$", re.S)
CODE = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"\]\([^)]*\)|<[^>]+>|https?://\S+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def en_hash(text: str) -> str:
    """What a translation records of the English it translates: its sha256, first 12 hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def english_path(nn: str, notebooks: Path | None = None) -> Path:
    notebooks = notebooks or NOTEBOOKS
    found = sorted(notebooks.glob(f"{nn}_*.ipynb"))
    if not found:
        raise ValueError(f"no English notebook {notebooks}/{nn}_*.ipynb")
    return found[0]


def numbers() -> list[str]:
    """The numbers of the English notebooks ("01", …)."""
    return sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def load_translation(nn: str, translations: Path | None = None) -> dict:
    """notebooks/zh/translations/NN.json, or an empty translation when there is none yet."""
    translations = translations or TRANSLATIONS
    path = translations / f"{nn}.json"
    if not path.exists():
        return {"notebook": None, "cells": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def parts(text: str) -> dict:
    """What a translation must keep of its English cell: fenced code, LaTeX, inline code and the numbers of the
    prose (as multisets), and the prose without them (for the glossary)."""
    fences = FENCE.findall(text)
    t = FENCE.sub(" ", text)
    maths = MATH.findall(t)
    t = MATH.sub(" ", t)
    codes = CODE.findall(t)
    t = LINK.sub(" ", CODE.sub(" ", t))
    return {"fences": Counter(fences), "math": Counter(maths), "code": Counter(codes),
            "numbers": Counter(NUMBER.findall(t)), "prose": t}


def glossary(path: Path | None = None) -> list[tuple[list[str], str]]:
    """The glossary's rows: ([English forms], Chinese term)."""
    path = path or GLOSSARY
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*$", line)
        if m and m.group(1) not in ("English", "---"):
            rows.append(([f.strip() for f in m.group(1).split(" / ")], m.group(2)))
    return rows


def term_re(forms: list[str]) -> re.Pattern:
    """The English forms as whole words, any case ("loss" not in "glossy", "pre-training" one word)."""
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])", re.I)


def cell_problems(cell_id: str, en: str, zh: str, terms) -> list[str]:
    """What is wrong in the form of one cell's translation (its hash aside)."""
    problems = []
    a, b = parts(en), parts(zh)
    for kind in ("fences", "math", "code", "numbers"):
        if a[kind] != b[kind]:
            problems.append(f"{cell_id}: {kind} differ: missing {dict(a[kind] - b[kind])} "
                            f"extra {dict(b[kind] - a[kind])}")
    for rx, term in terms:
        found = rx.search(a["prose"])
        if found and term not in b["prose"]:
            problems.append(f"{cell_id}: English says {found.group(0)!r}: the Chinese must use {term}")
    if en.startswith("# ") and not zh.startswith(en.split("·")[0]):
        problems.append(f"{cell_id}: the title must start with {en.split('·')[0]!r}")
    return problems


def markdown_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "markdown"]


def source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def status(nn: str, notebooks: Path | None = None, translations: Path | None = None) -> dict:
    """The markdown cells of notebook NN by state: {"current": [ids], "missing": [ids], "stale": [ids]}."""
    nb = json.loads(english_path(nn, notebooks).read_text(encoding="utf-8"))
    cells = load_translation(nn, translations)["cells"]
    state = {"current": [], "missing": [], "stale": []}
    for c in markdown_cells(nb):
        t = cells.get(c["id"])
        kind = "missing" if t is None else "stale" if t.get("en") != en_hash(source(c)) else "current"
        state[kind].append(c["id"])
    return state


def problems(nn: str, notebooks: Path | None = None, translations: Path | None = None,
             glossary_path: Path | None = None) -> list[str]:
    """Every problem of notebook NN's translation (an empty list when it is complete, current and keeps the
    English cells' code, LaTeX, numbers and the glossary's terms): what /work/tools/zh_check.py checks."""
    path = english_path(nn, notebooks)
    nb = json.loads(path.read_text(encoding="utf-8"))
    tr = load_translation(nn, translations)
    found = []
    if tr.get("notebook") != path.name:
        found.append(f"'notebook' should be {path.name!r}")
    terms = [(term_re(forms), zh) for forms, zh in glossary(glossary_path)]
    md = markdown_cells(nb)
    ids = {c["id"] for c in md}
    found += [f"{k}: no such markdown cell in the English notebook" for k in tr["cells"] if k not in ids]
    for c in md:
        en, t = source(c), tr["cells"].get(c["id"])
        if t is None:
            found.append(f"{c['id']}: missing")
            continue
        if t.get("en") != en_hash(en):
            found.append(f"{c['id']}: stale (English changed: en should be {en_hash(en)})")
        found += cell_problems(c["id"], en, t["zh"], terms)
    return found


class NotTranslated(ValueError):
    """A notebook whose translation lacks cells or has stale ones: its Chinese notebook is not built."""


def build(nn: str, notebooks: Path | None = None, translations: Path | None = None, write: bool = True):
    """The Chinese notebook NN (an nbformat node), written to notebooks/zh/<the English name> when `write`.
    Raises NotTranslated, naming the missing and stale cells, when a cell has no current translation."""
    import nbformat

    notebooks, translations = notebooks or NOTEBOOKS, translations or TRANSLATIONS
    path = english_path(nn, notebooks)
    state = status(nn, notebooks, translations)
    if state["missing"] or state["stale"]:
        raise NotTranslated(f"{path.name}: {len(state['missing'])} cell(s) missing "
                            f"{state['missing'][:8]}{' …' if len(state['missing']) > 8 else ''}, "
                            f"{len(state['stale'])} stale {state['stale']}: update {translations / f'{nn}.json'} "
                            "(python -m lmutils.course translate-status lists them)")
    nb = nbformat.read(path, as_version=4)
    cells = load_translation(nn, translations)["cells"]
    out = notebooks / "zh" / path.name
    starts = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cells[cell.id]["zh"].replace(badge(path), badge(out))
        elif cell.cell_type == "code" and START.search(cell.source):
            cell.source, n = START.subn(r'\1, lang="zh")', cell.source, count=1)
            starts += n
    if starts != 1:
        raise ValueError(f"{path.name}: expected one start(\"{nn}\", …) call in its code cells, found {starts}")
    if write:
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    return nb


def status_table(nns: list[str] | None = None) -> tuple[str, bool]:
    """translate-status's table, and whether every notebook's translation is complete and current."""
    rows, ok = ["notebook  translated  missing  stale"], True
    for nn in nns or numbers():
        s = status(nn)
        rows.append(f"{nn}        {len(s['current']):>10}  {len(s['missing']):>7}  {len(s['stale']):>5}"
                    + (f"   stale: {', '.join(s['stale'])}" if s["stale"] else ""))
        ok &= not (s["missing"] or s["stale"])
    return "\n".join(rows), ok
