# Two commands for a fresh machine: `make run` (the bot, locally) and `make test` (the suite).
# Each creates the virtualenv it needs from the pinned requirements first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/.local-deps: requirements.txt requirements-local.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-local.txt
	touch $@

$(BIN)/.dev-deps: $(BIN)/.local-deps requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

run: $(BIN)/.local-deps
	$(BIN)/python -m bolt_app $(ARGS)

lint: $(BIN)/.dev-deps
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .aws-sam
