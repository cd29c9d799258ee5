"""Every sentence the course's machinery says to a student (a checker's verdict, a hint, an error about an
exercise, start()'s and record()'s lines, the widgets' labels) goes through _():

    _("for T = {T} the mask should have shape ({T}, {T}), got {shape}.", T=5, shape=(4, 4))

The first argument is the whole sentence, a plain string with named fields, so that it can be translated as
one unit; never glue fragments together. Literal braces are doubled ("{{(a, b): count}}"). N_("...") marks a
sentence to translate later (a widget's label) without translating it now; translate() looks one up.

set_language("zh") (what start(lang="zh") calls) makes _() look each sentence up in locale/zh.json
({English sentence: its translation}, shipped in the package); a sentence missing there stays English.
catalogue() lists every sentence to translate; tests/test_zh.py checks that zh.json has them all.
"""

import ast
import json
from functools import cache
from pathlib import Path

LOCALE = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh")
_language = "en"


def set_language(lang: str) -> None:
    """Switch the course's messages: "en" (the default) or "zh"."""
    global _language
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(map(repr, LANGUAGES))}, got {lang!r}")
    _language = lang


def language() -> str:
    return _language


@cache
def table(lang: str) -> dict[str, str]:
    """The translations into `lang` (English sentence -> translation); empty for English."""
    path = LOCALE / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8")) if lang != "en" and path.exists() else {}


def translate(text: str) -> str:
    """`text` in the current language, unformatted (English when it has no translation)."""
    return table(_language).get(text, text) if _language != "en" else text


def _(text: str, **fields) -> str:
    """The sentence `text` (English) in the current language, with its fields filled in."""
    return translate(text).format(**fields)


def N_(text: str) -> str:
    """Mark `text` for the catalogue without translating it (translate() does, where it is shown)."""
    return text


def calls(source: str, names=("_", "N_")) -> list[ast.Call]:
    """Every call of _() (and N_()) in a module's source."""
    return [node for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names]


def catalogue(folder: Path | None = None) -> list[str]:
    """Every sentence given to _() or N_() in the course's machinery (lmutils/course/ and below), in file
    order."""
    folder = folder or Path(__file__).resolve().parent
    found = []
    for path in sorted(folder.rglob("*.py")):
        for call in calls(path.read_text(encoding="utf-8")):
            if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
                if call.args[0].value not in found:
                    found.append(call.args[0].value)
    return found
