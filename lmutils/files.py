"""Where the files the course reads at run time are, found one way from a clone, an editable install or a wheel.

    course_dir("data")        # the corpora, data/measured/ and data/pretrained/
    course_dir("results")     # the notebooks' recorded results (notebooks/results/)
    course_dir("solutions")   # the exercises' solutions (notebooks/solutions/)

A clone or an editable install reads the repository's own folders. A wheel (the setup cell's pip install from
git, as on Colab) has no repository beside it: pyproject.toml copies these folders into the package, under
lmutils/shipped/, and they are read there. $LMUTILS_DATA overrides the data folder.
"""

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent  # the repository, when the package is imported from a clone
FOLDERS = {"data": "data", "results": "notebooks/results", "solutions": "notebooks/solutions"}


def in_repository() -> bool:
    """True when lmutils is imported from a clone of the course (or an editable install of one)."""
    return (REPO / "pyproject.toml").is_file() and (REPO / "notebooks").is_dir()


def course_dir(kind: str) -> Path:
    """The folder of one kind of course file (one of FOLDERS): the repository's, else the wheel's copy."""
    if kind not in FOLDERS:
        raise ValueError(f"unknown kind of course file {kind!r}: one of {', '.join(FOLDERS)}")
    if kind == "data" and os.environ.get("LMUTILS_DATA"):
        return Path(os.environ["LMUTILS_DATA"])
    return REPO / FOLDERS[kind] if in_repository() else PACKAGE / "shipped" / kind
