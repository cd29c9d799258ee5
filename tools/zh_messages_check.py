"""Check lmutils/course/locale/zh.json against the catalogue of _() sentences (stdlib only, no torch).

    python3 tools/zh_messages_check.py [--module nb04] [--dump]

Loads the catalogue the way lmutils.course.i18n.catalogue() does (ast over lmutils/course/**/*.py), then checks:
the file is valid JSON, every sentence is present (and nothing extra), the keys are in catalogue order, and each
translation has the same named fields with the same format specs and conversions as its English sentence, the same
inline code (`…`) and the same numbers written in digits outside the fields (as multisets).
--dump prints the sentences of a module (or all) that are still missing, as JSON, for translating.
Exit status 1 when a problem is found (missing sentences alone count as problems unless --allow-missing).
"""

import ast
import json
import re
import string
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "lmutils" / "course"
LOCALE = COURSE / "locale" / "zh.json"


def calls(source: str) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"]


def catalogue() -> list[tuple[str, str]]:
    """(sentence, module file) for every sentence given to _(), in the order catalogue() gives."""
    found, seen = [], set()
    for path in sorted(COURSE.rglob("*.py")):
        for call in calls(path.read_text(encoding="utf-8")):
            if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
                text = call.args[0].value
                if text not in seen:
                    seen.add(text)
                    found.append((text, path.relative_to(COURSE).as_posix()))
    return found


def fields(text: str) -> Counter:
    """The named fields of a format string, with their format specs and conversions (a multiset)."""
    return Counter((name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text) if name is not None)


NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> Counter:
    """The numbers written in digits outside the fields (a multiset)."""
    return Counter(NUMBER.findall(re.sub(r"\{[^{}]*\}", "", text.replace("{{", "").replace("}}", ""))))


def inline_code(text: str) -> Counter:
    return Counter(re.findall(r"`[^`]*`", text))


def main(argv: list[str]) -> int:
    module = argv[argv.index("--module") + 1] if "--module" in argv else None
    entries = catalogue()
    try:
        table = json.loads(LOCALE.read_text(encoding="utf-8")) if LOCALE.exists() else {}
    except json.JSONDecodeError as error:
        print(f"{LOCALE}: not valid JSON: {error}")
        return 1
    if not isinstance(table, dict):
        print(f"{LOCALE}: not a JSON object")
        return 1
    problems = []
    english = [text for text, _ in entries]
    missing = [(t, m) for t, m in entries if t not in table]
    for key in table:
        if key not in set(english):
            problems.append(f"extra (not in the catalogue): {key!r}")
    for text, value in table.items():
        if text not in set(english):
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"empty or not a string: {text!r}")
            continue
        try:
            en, zh = fields(text), fields(value)
        except ValueError as error:
            problems.append(f"bad format string ({error}): {value!r}")
            continue
        if en != zh:
            problems.append(f"fields differ: {text!r} has {sorted(en)}, the translation {sorted(zh)}")
        if numbers(text) != numbers(value):
            problems.append(f"numbers differ: {text!r} has {sorted(numbers(text).elements())}, "
                            f"the translation {sorted(numbers(value).elements())}")
        if inline_code(text) != inline_code(value):
            problems.append(f"inline code differs: {text!r} → {value!r}")
    order = [t for t in english if t in table]
    if [k for k in table if k in set(english)] != order:
        problems.append("keys are not in catalogue order")
    if "--dump" in argv:
        todo = [t for t, m in missing if module is None or m.endswith(f"{module}.py")]
        print(json.dumps(todo, ensure_ascii=False, indent=1))
        return 0
    for p in problems:
        print(p)
    print(f"{len(english)} sentences, {len(english) - len(missing)} translated, {len(missing)} missing, "
          f"{len(problems)} problems")
    if missing and "--allow-missing" not in argv:
        for t, m in missing[:20]:
            print(f"missing ({m}): {t!r}")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
