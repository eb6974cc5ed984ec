# Quick start: `make demo` (the main job on the embedded broker), `make test` (the tests).
# Both create the virtual environment on first use; the Kafka jars are resolved with
# Maven the first time a broker starts, then reused offline.
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

.PHONY: install demo test fast bench
install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/hub demo

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q --durations=15

# The pure tests only (no broker): seconds.
fast: $(VENV)/.installed
	$(VENV)/bin/pytest -q -m "not kafka"

bench: $(VENV)/.installed
	$(VENV)/bin/python bench/codec.py
