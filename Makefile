# The newcomer path: `make demo` serves the gateway with demo data, `make test` runs
# every test. Both create .venv and install what they need; only Python 3.11+ and
# make are assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --quiet --disable-pip-version-check
# The port `make demo` serves on: `make demo PORT=8001` runs a second demo beside the first.
PORT ?= 8000
# One test process per core (worksteal evens out the two 1,000-example property runs).
PYTEST_ARGS ?= -n auto --dist worksteal

.PHONY: demo serve test lint schema bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-runtime: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -e '.[test]'
	@touch $@ $(VENV)/.installed-runtime

demo: $(VENV)/.installed-runtime  ## serve GraphiQL on http://127.0.0.1:$(PORT)/graphql with demo data (PORT=8001: a second demo)
	GATEWAY_LOG_FORMAT=$${GATEWAY_LOG_FORMAT:-text} $(BIN)/billing-gateway serve --demo --port $(PORT)

serve: $(VENV)/.installed-runtime
	$(BIN)/billing-gateway serve

test: $(VENV)/.installed-test  ## every test (PostgreSQL too when GATEWAY_TEST_POSTGRES_URL is set)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test  ## layering contracts and ruff
	$(BIN)/lint-imports
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test  ## benchmarks on SQLite and PostgreSQL (BENCH_ARGS=--quick: under 2 minutes)
	$(BIN)/python -m bench $(BENCH_ARGS)

schema: $(VENV)/.installed-runtime  ## regenerate schema.graphql after changing the API
	$(BIN)/billing-gateway export-schema > schema.graphql

clean:
	rm -rf $(VENV) gateway.db gateway.db-wal gateway.db-shm gateway-secret.key
