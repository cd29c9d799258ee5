"""Every sentence the course's machinery says to a student (a checker's verdict, a hint, an error about an
exercise) goes through _():

    _("for T = {T} the mask should have shape ({T}, {T}), got {shape}.", T=5, shape=(4, 4))

The first argument is the whole sentence, a plain string with named fields, so that it can be translated as
one unit; never glue fragments together. Literal braces are doubled ("{{(a, b): count}}"). For now _() returns
the English, formatted; a translated edition adds a table per language here (English sentence → its
translation) and a way to choose the language. catalogue() lists every sentence to translate.
"""

import ast
from pathlib import Path


def _(text: str, **fields) -> str:
    """The sentence `text` (English) with its fields filled in."""
    return text.format(**fields)


def calls(source: str) -> list[ast.Call]:
    """Every call of _() in a module's source."""
    return [node for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"]


def catalogue(folder: Path | None = None) -> list[str]:
    """Every sentence given to _() in the course's machinery (lmutils/course/ and below), in file order."""
    folder = folder or Path(__file__).resolve().parent
    found = []
    for path in sorted(folder.rglob("*.py")):
        for call in calls(path.read_text(encoding="utf-8")):
            if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
                if call.args[0].value not in found:
                    found.append(call.args[0].value)
    return found
