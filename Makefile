# The two commands a new user needs: `make run` and `make test`. Both install what they
# need into .venv from requirements.lock (pinned) the first time, and again when it changes.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test lint install chromium bench screenshots clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP) chromium

## chromium: Debian's headless Chromium for the console's browser tests (never a downloaded browser)
chromium:
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium (browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no /usr/bin/chromium: run 'sudo apt-get install chromium' for the browser tests"; fi; }

## run: the hub with embedded defaults (SQLite, in-process transport) and the mock partners
run: install
	$(BIN)/lgsp dev

## lint: ruff, mypy, the import contracts (pyproject.toml), and the exported JSON Schemas are current
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/lgsp schemas export --check

## test: lint, then the whole suite (RabbitMQ and PostgreSQL tests included; in CI they must run),
## on TEST_WORKERS processes (pytest-xdist; each has its own PostgreSQL database and broker names)
TEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS)

## bench: end-to-end benchmark against RabbitMQ + PostgreSQL (see docs/performance.md)
bench: install
	$(BIN)/python -m bench.spine

## screenshots: the console's main pages, taken by the browser tests, into docs/console/
screenshots: install
	HUB_CONSOLE_SCREENSHOTS=docs/console $(BIN)/pytest -q -p no:cacheprovider tests/console/test_browser.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
