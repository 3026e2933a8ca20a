# Two commands do everything: `make run` (set up, start Redis, the API and a worker)
# and `make test` (set up, lint, run the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed

.PHONY: setup browser deploy-tools run test test-unit test-containers lint format openapi bench clean

$(STAMP): requirements.txt requirements-serving.txt requirements-dev.txt pyproject.toml
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

# The manifest and container checkers, in a venv of their own (requirements-deploy.txt).
$(DEPLOY_STAMP): requirements-deploy.txt
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --upgrade pip
	$(DEPLOY_VENV)/bin/pip install --quiet -r requirements-deploy.txt
	touch $(DEPLOY_STAMP)

deploy-tools: $(DEPLOY_STAMP)

run: setup
	scripts/run.sh

# Podman where it can run (scripts/container-env.sh); the container tests skip, saying
# why, where it cannot.
test: setup browser deploy-tools lint
	@scripts/container-env.sh || echo "Podman unavailable: tests/containers will be skipped." >&2
	$(BIN)/python -m pytest

# The images built and the whole stack run in podman (also part of `make test`).
test-containers: setup deploy-tools
	scripts/container-env.sh
	$(BIN)/python -m pytest tests/containers

test-unit: setup
	$(BIN)/python -m pytest -m "not integration and not containers"

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
	rm -rf $(VENV) $(DEPLOY_VENV) var .pytest_cache .ruff_cache
