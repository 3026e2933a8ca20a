# Two commands do everything: `make run` (set up, start Redis, the API and a worker)
# and `make test` (set up, lint, run the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser run test test-unit lint format openapi bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --editable .  # the keras-service command
	touch $(STAMP)

setup: $(STAMP)
	@scripts/ensure-package.sh redis-server
	@scripts/ensure-package.sh nginx nginx-light

# Chromium and its driver (Debian's chromium-driver pulls in chromium) for the dashboard's
# browser test; only `make test` needs them, and where they cannot be installed the test
# is skipped and says why, so this step warns instead of failing.
browser:
	@scripts/ensure-package.sh chromedriver chromium-driver || \
		echo "Chromium unavailable: tests/integration/test_ui.py will be skipped." >&2

run: setup
	scripts/run.sh

test: setup browser lint
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# openapi.yaml is generated from the schemas and routes, with the default settings;
# tests/unit/test_openapi.py fails while the committed file differs from it.
openapi: $(STAMP)
	$(BIN)/python -m service.openapi openapi.yaml

bench: setup
	@scripts/ensure-package.sh wrk
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/predict_latency.py
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/slow_bodies.py
	$(BIN)/python bench/sweeps.py
	$(BIN)/python bench/resume.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/rollouts.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
