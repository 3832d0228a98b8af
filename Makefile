# Two commands for a fresh machine (see README):  make demo   |   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-fast lint clean

$(BIN)/spatialeval: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[hf,dev,ray]"
	touch $@

install: $(BIN)/spatialeval

demo: install  ## install, then evaluate the tiny model and the random baseline on the synthetic task
	$(BIN)/spatialeval run

lint: install
	$(BIN)/ruff check spatialeval tests

test: lint  ## install, lint, run the whole test suite (CPU, offline)
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache
