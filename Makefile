# Two commands do everything: `make run` (set up, start Redis, the API and a worker)
# and `make test` (set up, lint, run the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-unit lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)
	@scripts/ensure-package.sh redis-server

run: setup
	scripts/run.sh

test: setup lint
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	@scripts/ensure-package.sh wrk
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/predict_latency.py
	$(BIN)/python bench/jobs.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
