# `make lab` opens the course, `make test` runs every test. Both create .venv on first use.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Jupyter refuses to start as root (containers, cloud VMs) unless told it may.
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test notebooks slides gpu-report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# `make lab LANG=zh`: with JupyterLab's Chinese menus (then Settings > Language > 中文) and the Chinese notebooks.
lab: $(STAMP)
	$(if $(filter zh zh_CN%,$(LANG)),$(BIN)/python -m pip install --quiet jupyterlab-language-pack-zh-CN)
	$(BIN)/jupyter lab $(LAB_FLAGS) $(if $(filter zh zh_CN%,$(LANG)),notebooks/zh/,notebooks/)

# Tests side by side, one per core (pytest-xdist; a notebook's cells stay together on one worker), each on one
# thread: faster than one at a time on all cores, and a result that only holds on this machine's thread count fails.
test: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --dist loadfile

# Re-execute every notebook in place (CPU, fixed seeds), as they are committed.
notebooks: $(STAMP)
	$(BIN)/python -m lmutils.course execute notebooks/[0-9]*.ipynb

slides: $(STAMP)
	$(BIN)/python -m lmutils.course.slides notebooks/[0-9]*.ipynb $(wildcard notebooks/zh/[0-9]*.ipynb) --out build/slides

# On a GPU machine: the preset, with and without torch.compile, and notebooks 04-09 timed, in under 10 minutes;
# gpu/ figures into notebooks/results/08_training_on_a_gpu.json, the README's table into build/gpu-report.md.
gpu-report: $(STAMP)
	$(BIN)/python -m lmutils.course.report

clean:
	rm -rf build .pytest_cache
