# Two commands for a fresh machine (see README):  make demo   |   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-fast lint clean browser

$(BIN)/spatialeval: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[hf,dev,ray,train]"
	touch $@

install: $(BIN)/spatialeval

demo: install  ## install, then evaluate the tiny model and the random baseline on the synthetic task
	$(BIN)/spatialeval run

lint: install
	$(BIN)/ruff check spatialeval tests

# Headless Chromium for the report's browser tests (Debian's package; browser downloads fail offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

test: lint browser  ## install, lint, run the whole test suite (CPU, offline)
	SPATIALEVAL_REQUIRE_BROWSER=1 $(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache
