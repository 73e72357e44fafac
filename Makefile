# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo needs only the light core; the tests also install the perception
# extra (torch, mediapipe, ONNX Runtime), which takes a few minutes.
CORE := $(VENV)/.installed-core
FULL := $(VENV)/.installed-full
PIP := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: demo test lint typecheck venv clean system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip==25.3

$(CORE): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $(CORE)

$(FULL): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev,perception]'
	touch $(CORE) $(FULL)

venv: $(FULL)

demo: $(CORE)
	$(BIN)/walkout demo

lint: $(FULL)
	$(BIN)/ruff check
	$(BIN)/ruff format --check

typecheck: $(FULL)
	$(BIN)/mypy

system-packages:
	scripts/system-packages.sh

test: lint typecheck system-packages
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
