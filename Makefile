# One-command set-up: `make run` and `make test` create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= ./data

.PHONY: run test lint format bench migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python server.py --host $(HOST) --port $(PORT) --data-dir $(DATA)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

migrate: $(STAMP)
	$(BIN)/python scripts/migrate.py --data-dir $(DATA)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
