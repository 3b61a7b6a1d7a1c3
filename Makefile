# The two commands of the README: `make demo` (set up, then run the main job) and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed-stamp
TASK ?= 27_2

.PHONY: setup demo test lint bench

$(STAMP): pyproject.toml scripts/setup
	./scripts/setup
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/treeplanner gold --task $(TASK)

test: setup
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

bench: setup
	$(VENV)/bin/python bench/simulator.py
