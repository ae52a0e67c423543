# The only entry points a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Pinned dependencies first (requirements.lock), then the package itself without resolving again.
$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Serve on the embedded default (SQLite file ./product-partners.db) with demo data.
run: install
	$(BIN)/product-partners db upgrade
	HOST=$(HOST) PORT=$(PORT) $(BIN)/product-partners demo --print-curl > /dev/null
	$(BIN)/product-partners serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

# The whole suite, on SQLite and on the real PostgreSQL (and Redis). Exit code 5 (no tests
# collected) is a failure, never a pass.
test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The long schemathesis run over every operation on PostgreSQL (make test runs a short one):
# PP_FUZZ_CASES generated cases in all (default 12000); prints the counts per operation/status.
PP_FUZZ_CASES ?= 12000
fuzz: install
	PP_FUZZ_CASES=$(PP_FUZZ_CASES) $(BIN)/python -m pytest -q -p no:randomly tests/test_fuzz_api.py

# The service against a bare Starlette+asyncpg floor on PostgreSQL, with wrk (installed if
# missing), and how its cost grows with the table; writes bench/results.json. A few minutes;
# BENCH_DURATION, BENCH_SIZES, BENCH_WORKERS, ... scale it (see bench/README.md).
bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
