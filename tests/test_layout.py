"""The package's layout: the taught modules (lmutils/*.py) never import the course's machinery
(lmutils/course/), and import one another without a cycle."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lmutils"
TAUGHT = sorted(p for p in PACKAGE.glob("*.py"))


def module_name(path: Path) -> str:
    return "lmutils" if path.stem == "__init__" else f"lmutils.{path.stem}"


def is_main_block(node) -> bool:
    """`if __name__ == "__main__":`"""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and [getattr(c, "value", None) for c in test.comparators] == ["__main__"])


def imports(path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import of the file, at any depth (function bodies included), except
    those under `if __name__ == "__main__":`. Relative imports are made absolute."""
    found = []

    def visit(node):
        if is_main_block(node):
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y, from . import y (lmutils/*.py sit one level down)
                base = "lmutils" + (f".{node.module}" if node.module else "")
            else:
                base = node.module
            found.append((base, node.lineno))
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)  # from . import course
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_taught_modules_do_not_import_the_course():
    bad = [f"{p.name}:{line} imports {name}" for p in TAUGHT for name, line in imports(p)
           if name == "lmutils.course" or name.startswith("lmutils.course.")]
    assert not bad, "the taught modules must not import lmutils.course (only under `if __name__ == '__main__':`): " \
                    + "; ".join(bad)


def test_the_check_sees_imports_in_functions_but_not_in_the_main_block(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\ndef f():\n    from .course import cli\n"
                 "if __name__ == '__main__':\n    from lmutils.course.cli import train_main\n")
    assert [name for name, _ in imports(f)] == ["os", "lmutils.course", "lmutils.course.cli"]


def test_no_import_cycle_between_taught_modules():
    names = {module_name(p) for p in TAUGHT}
    graph = {module_name(p): sorted({n for n, _ in imports(p) if n in names} - {module_name(p)}) for p in TAUGHT}
    graph["lmutils"] = []  # every submodule imports its package first: that is no cycle

    def cycle_from(node, path):
        if node in path:
            return path[path.index(node):] + [node]
        for nxt in graph[node]:
            if found := cycle_from(nxt, path + [node]):
                return found
        return None

    for start in graph:
        cycle = cycle_from(start, [])
        assert cycle is None, "import cycle: " + " -> ".join(cycle)
    assert "lmutils.train" not in graph["lmutils.presets"]  # presets are plain data


def test_importing_train_does_not_import_matplotlib():
    code = "import sys, lmutils.train, lmutils.checkpoint, lmutils.presets; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert run.stdout.strip() == "False", run.stderr[-2000:]


def test_every_preset_holds_every_setting():
    from lmutils.presets import PRESETS
    from lmutils.train import MODEL_KEYS, TRAIN_KEYS

    for name, settings in PRESETS.items():
        assert set(settings) == {"corpus", "about", *MODEL_KEYS, *TRAIN_KEYS}, name
