# Every target makes its own virtual environment, so a fresh machine needs only python3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit infra-check clean

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(BIN)/activate

demo: $(BIN)/activate
	$(BIN)/python -m revoke demo

test: lint typecheck unit infra-check

lint: $(BIN)/activate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/activate
	$(BIN)/mypy

unit: $(BIN)/activate
	$(BIN)/pytest -q

# infra-check: the infrastructure checks (see infra/README.md).
infra-check:
	@echo "infra checks: none yet"

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache
