#!/usr/bin/env bash
# The course as a student runs it on Colab, tested: a wheel, installed by the notebooks' own setup cell into a fresh
# environment outside the repository, and every notebook executed top to bottom from a folder that holds only the
# .ipynb files, compared with nbval as `make test` compares them, on another CPU's arithmetic (PyTorch's oldest
# vector path, MKL's SSE4.2 path, one thread; two notebooks at a time). CI's second pass; a developer runs it too:
#
#   .ci/colab_like.sh                      # everything in a temporary folder, removed at the end
#   KEEP=1 .ci/colab_like.sh notebooks/07_transformer_language_model.ipynb   # some notebooks; keep the folder
#
# What stands in for Colab: google.colab, imported when the kernel starts (as Colab does), with what
# lmutils.course.start() calls; the packages Colab ships (torch and the course's dependencies) installed first;
# LMUTILS_INSTALL_SOURCE, which the setup cell installs instead of the git URL (on Colab it is unset).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
[ "${KEEP:-0}" = 1 ] && echo "working in $work (kept)" || trap 'rm -rf "$work"' EXIT
python=${PYTHON:-python3}
torch=${TORCH:-torch==2.13.0}
start=$SECONDS
say() { echo "colab-like: $* ($((SECONDS - start)) s)"; }
if (($#)); then notebooks=($(realpath "$@")); else notebooks=("$repo"/notebooks/[0-9]*.ipynb); fi

# A fresh environment with what Colab has before the setup cell runs: torch, lmutils' dependencies, Jupyter's
# kernel and the test tools (their versions as pyproject.toml asks); not lmutils.
"$python" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet "$torch"
mapfile -t needs < <("$py" - "$repo/pyproject.toml" <<'EOF'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
tools = ("ipykernel", "nbval", "pytest", "pytest-xdist")
for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
    name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0)
    if name != "torch" and (spec in project["dependencies"] or name in tools):
        print(spec)
EOF
)
"$py" -m pip install --quiet "${needs[@]}"
say "a fresh environment in $work/venv: ${needs[*]}"

# The wheel, as pip builds it from the git URL on Colab.
"$py" -m pip wheel --quiet --no-deps "$repo" -w "$work/dist"
wheel=$(ls "$work"/dist/lmutils-*.whl)
say "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"

# The notebooks alone in a folder of their own; the test harness beside them: the repository's conftest.py,
# nbval's sanitize file and pyproject.toml's pytest options.
mkdir -p "$work/course/notebooks" "$work/course/tests"
cp "${notebooks[@]}" "$work/course/notebooks/"
cp "$repo/conftest.py" "$work/course/"
cp "$repo/tests/nbval_sanitize.cfg" "$work/course/tests/"
"$py" - "$repo/pyproject.toml" > "$work/course/pytest.ini" <<'EOF'
import sys, tomllib
options = tomllib.load(open(sys.argv[1], "rb"))["tool"]["pytest"]["ini_options"]
print("[pytest]")
for key in ("addopts", "filterwarnings"):
    value = options[key]
    print(f"{key} =", "\n    ".join(value) if isinstance(value, list) else value)
EOF

# Colab: google.colab is imported when the kernel starts.
mkdir -p "$work/fake/google/colab" "$work/ipython/profile_default/startup"
echo '"""A stand-in for Colab'"'"'s google.colab, for .ci/colab_like.sh."""' > "$work/fake/google/colab/__init__.py"
printf '"""What lmutils.course.start() calls on Colab."""\n\n\ndef enable_custom_widget_manager():\n    pass\n' \
  > "$work/fake/google/colab/output.py"
echo "import google.colab" > "$work/ipython/profile_default/startup/00-colab.py"

export PYTHONPATH="$work/fake" IPYTHONDIR="$work/ipython" LMUTILS_INSTALL_SOURCE="$wheel"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore  # pip -q then prints nothing, as on Colab
export ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
cd "$work/course"
if "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("lmutils") is None)'; then
  echo "colab-like: lmutils is importable before the setup cell ran: the environment is not fresh" >&2
  exit 1
fi

# The first notebook alone: its setup cell installs the wheel in its kernel, and the notebook goes on with it.
first=$(ls notebooks/*.ipynb | head -1)
"$py" -m pytest -q "$first"
"$py" -c 'import lmutils, lmutils.files as f, sys; print("colab-like: the setup cell installed", lmutils.__file__)
sys.exit(f.in_repository() or not lmutils.__file__.startswith(sys.prefix))'
say "$(basename "$first"): its setup cell installed the wheel"

# The others, two at a time (one thread each): every setup cell now finds lmutils, as on Colab after the first.
rest=($(ls notebooks/*.ipynb | tail -n +2))
if ((${#rest[@]})); then
  "$py" -m pytest -q -n 2 --dist loadfile "${rest[@]}"
fi
say "every notebook ran from the installed wheel on another numeric path"
