# The README's two commands: `make demo` (set up, then run a planning episode on the embedded
# model) and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed-stamp
TASK ?= 27_2
RUN_ARGS ?=

.PHONY: setup demo gold test lint bench

$(STAMP): pyproject.toml scripts/setup
	./scripts/setup
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/treeplanner run --task $(TASK) $(RUN_ARGS)

gold: setup
	$(VENV)/bin/treeplanner gold --task $(TASK)

test: setup
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy
