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

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

test: $(STAMP)
	$(BIN)/python -m pytest

# Re-execute every notebook in place (CPU, fixed seeds), as they are committed.
notebooks: $(STAMP)
	$(BIN)/python -m lmutils.course execute notebooks/[0-9]*.ipynb

slides: $(STAMP)
	$(BIN)/python -m lmutils.course.slides notebooks/[0-9]*.ipynb --out build/slides

# On a GPU machine: the preset, with and without torch.compile, and notebooks 04-09 timed, in under 10 minutes;
# gpu/ figures into notebooks/results/08_training_on_a_gpu.json, the README's table into build/gpu-report.md.
gpu-report: $(STAMP)
	$(BIN)/python -m lmutils.course.report

clean:
	rm -rf build .pytest_cache
