# Every target makes its own virtual environment, so a fresh machine needs only python3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit infra-check bench clean

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(BIN)/activate

# Azurite, the Storage emulator the tests, the demo and the benchmark start (pinned in package-lock.json).
AZURITE := node_modules/.bin/azurite

$(AZURITE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AZURITE)

demo: $(BIN)/activate $(AZURITE)
	$(BIN)/python -m graphsim.demo

test: lint typecheck unit infra-check

bench: $(BIN)/activate $(AZURITE)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.policy_cost
	$(BIN)/python -m bench.campaign --users 5000 --share 0.9

lint: $(BIN)/activate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/activate
	$(BIN)/mypy

unit: $(BIN)/activate $(AZURITE)
	$(BIN)/pytest -q

# infra-check: the infrastructure checks (see infra/README.md), in their own environment
# because checkov brings many dependencies. checkov fails on any failed check; tests/infra
# also fails if checkov parsed nothing, and asserts the security properties and settings.
INFRA_VENV := .venv-infra
INFRA_BIN := $(INFRA_VENV)/bin
PYCEP_PARSER := pycep-parser==0.7.1

$(INFRA_BIN)/activate: requirements-infra.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_BIN)/pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	$(INFRA_BIN)/pip install --quiet --disable-pip-version-check --no-deps $(PYCEP_PARSER)
	touch $(INFRA_BIN)/activate

infra-check: $(INFRA_BIN)/activate
	$(INFRA_BIN)/checkov --directory infra --framework bicep --skip-download --compact --quiet
	$(INFRA_BIN)/python -m pytest -q -o addopts="-p no:cacheprovider" --confcutdir=tests/infra tests/infra

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache node_modules
