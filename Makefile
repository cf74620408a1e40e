# idara: the two commands a new user needs are `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo up test test-fast lint clean

install:
	@./deploy/install.sh

demo: install
	$(BIN)/idara demo

up: install
	$(BIN)/idara up

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy orchestrator agents workers
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy orchestrator agents workers

clean:
	rm -rf .idara .pytest_cache .mypy_cache .ruff_cache
