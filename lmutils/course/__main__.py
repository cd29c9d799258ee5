"""`python -m lmutils.course COMMAND ...`: the authors' commands (python -m lmutils.course --help)."""

import argparse
import sys
from pathlib import Path

COMMANDS = {
    "check": "list every broken convention of the notebooks (header, badge, setup cell, slides, sections, cell "
             "length, execution order); exit 1 if there is one",
    "fix": "set what can be set mechanically (the Colab badge, slide types), then check",
    "execute": "run the notebooks top to bottom on CPU with fixed seeds and save them with their outputs; their "
               "recorded results become the new references (tolerances are kept)",
    "spread": "run the notebooks under several numeric paths (vector code, MKL, threads) and set each recorded "
              "result's tolerance to three times the largest difference seen",
    "scoreboard": "print the README's scoreboard from the recorded results",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lmutils.course", description="The course's tools for authors.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if name != "scoreboard":
            cmd.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK",
                             help="notebooks/NN_*.ipynb files (several at once, e.g. notebooks/0*.ipynb)")
    return p


def read(path: Path):
    """A notebook, or ValueError saying why it cannot be read."""
    import nbformat

    if not path.is_file():
        raise ValueError(f"no notebook at {path}" + (": give the .ipynb file" if path.is_dir() else ""))
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 -- JSON errors, nbformat's validation: all mean "not a notebook"
        raise ValueError(f"{path} is not a readable notebook ({type(err).__name__})") from None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # what there is to do, rather than argparse's one line
        parser().print_help(sys.stderr)
        return 2
    args = parser().parse_args(argv)
    if args.command == "scoreboard":
        from .results import scoreboard_markdown

        print(scoreboard_markdown())
        return 0
    import nbformat

    from .notebook import check_notebook, execute, fix, spread

    try:
        for path in args.notebooks:  # every name first: a typo must not wait for the others to run
            read(path)
        if args.command == "spread":
            print(spread(args.notebooks))
            return 0
        status = 0
        for path in args.notebooks:
            if args.command == "execute":
                print(f"{path.name}: {execute(path):.1f} s", flush=True)
                continue
            nb = read(path)
            if args.command == "fix":
                fix(nb, path)
                nbformat.write(nb, path)
            problems = check_notebook(nb, path)
            for p in problems:
                print(f"{path.name}: {p}")
            status |= bool(problems)
        return status
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
