"""The package's layout: no import cycle anywhere in lmutils/ (the course's machinery included, imports inside
functions and under `if __name__ == "__main__":` included), and the taught modules (lmutils/*.py) never import
the course's machinery (lmutils/course/)."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lmutils"
FILES = sorted(PACKAGE.rglob("*.py"))
TAUGHT = sorted(PACKAGE.glob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in FILES}


def imports(path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import statement of the file, at any depth: function bodies and the
    `if __name__ == "__main__":` block included. Relative imports are made absolute; `from X import name` counts
    as an import of X.name where that is a module (a submodule), else of X."""
    name = module_name(path)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full if full in MODULES else base, node.lineno))
    return found


def graph() -> dict[str, set[str]]:
    """module → the lmutils modules it imports. Importing a submodule imports its packages first, whatever the code
    says: that is no edge (it starts no cycle). Importing a name from a package's __init__ (from . import
    SETUP_CELL) is one: it is a cycle if that __init__ imports the module back."""
    return {name: {n for n, _ in imports(path) if n in MODULES} - {name} for name, path in MODULES.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    done, stack = set(), []

    def visit(node):
        if node in stack:
            return stack[stack.index(node):] + [node]
        if node in done:
            return None
        stack.append(node)
        for nxt in sorted(edges[node]):
            if cycle := visit(nxt):
                return cycle
        stack.pop()
        done.add(node)
        return None

    for start in sorted(edges):
        if cycle := visit(start):
            return cycle
    return None


def test_no_import_cycle_anywhere_in_lmutils():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_taught_modules_do_not_import_the_course():
    bad = [f"{p.name}:{line} imports {name}" for p in TAUGHT for name, line in imports(p)
           if name == "lmutils.course" or name.startswith("lmutils.course.")]
    assert not bad, "the taught modules must not import lmutils.course: " + "; ".join(bad)


def test_the_graph_sees_every_kind_of_import(tmp_path, monkeypatch):
    pkg = tmp_path / "lmutils"
    (pkg / "course").mkdir(parents=True)
    for f in ("__init__.py", "a.py", "b.py", "course/__init__.py", "course/c.py"):
        (pkg / f).write_text("")
    (pkg / "a.py").write_text("import os\ndef f():\n    from .course import c\n"
                              "if __name__ == '__main__':\n    from lmutils.b import g\n")
    (pkg / "b.py").write_text("from . import a\n")
    (pkg / "course" / "c.py").write_text("from .. import b\nfrom . import X\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", {module_name(p): p for p in sorted(pkg.rglob("*.py"))})
    assert [n for n, _ in imports(pkg / "a.py")] == ["os", "lmutils.course.c", "lmutils.b"]
    edges = graph()
    assert edges["lmutils.course.c"] == {"lmutils.b", "lmutils.course"}  # X is a name of lmutils.course
    assert find_cycle(edges) == ["lmutils.a", "lmutils.b", "lmutils.a"]  # under __main__ too


def test_the_command_lives_in_the_taught_half():
    edges = graph()
    assert {"lmutils.train", "lmutils.presets", "lmutils.models"} <= edges["lmutils.run"]
    assert edges["lmutils.bench"] == {"lmutils.run"}  # python -m lmutils.bench: an alias
    assert "lmutils.run" in edges["lmutils.course.report"]  # the GPU report imports the command, downward
    assert not (edges["lmutils.presets"] & {"lmutils.train", "lmutils.run"})  # presets are plain data


def test_the_aliases_run_the_same_command():
    for module in ("lmutils.run", "lmutils.train", "lmutils.bench"):
        run = subprocess.run([sys.executable, "-m", module, "--list-presets"], capture_output=True, text=True,
                             cwd=PACKAGE.parent, timeout=600)
        assert run.returncode == 0 and "shakespeare-char-cpu" in run.stdout, (module, run.stderr[-2000:])


def test_importing_train_does_not_import_matplotlib():
    code = "import sys, lmutils.run, lmutils.checkpoint, lmutils.presets; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert run.stdout.strip() == "False", run.stderr[-2000:]


def test_every_preset_holds_every_setting():
    from lmutils.presets import PRESETS
    from lmutils.run import MODEL_KEYS, TRAIN_KEYS

    for name, settings in PRESETS.items():
        assert set(settings) == {"corpus", "about", *MODEL_KEYS, *TRAIN_KEYS}, name
