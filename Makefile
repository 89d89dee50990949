# Two entry points: `make demo` (set up, run the pipeline on generated demo data)
# and `make test` (set up, install system packages the tests need, run the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: setup system-deps demo test bench clean

setup: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Debian packages used by the browser tests (headless Chromium). Installed only when missing.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian package chromium (browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(BIN)/ektp demo

# Two workers (pytest-xdist), each test file on one worker so module fixtures are built once.
test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: setup
	$(BIN)/python tests/bench/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .prefect
