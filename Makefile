# The only entry points a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install system-deps services run test lint fuzz bench clean

$(BIN)/python:
	@echo "==> creating the virtual environment $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Pinned dependencies first (requirements.lock), then the package itself without resolving again.
$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	@echo "==> installing the pinned dependencies into $(VENV) (the first time takes about a minute)"
	@$(BIN)/pip install --quiet -r requirements.lock
	@$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

# Debian packages the tests need (PgBouncer, wrk): installed when missing.
system-deps:
	@bash scripts/install-system-deps.sh

# PostgreSQL and Redis on this machine: started when installed but not running.
services:
	@bash scripts/start-services.sh

# Serve on the embedded default (one SQLite file in the user's data directory, see README)
# with demo data. A second run reuses the demo data.
run: install
	@echo "==> migrating the database"
	@$(BIN)/product-partners db upgrade > /dev/null
	@echo "==> preparing the demo data"
	@HOST=$(HOST) PORT=$(PORT) $(BIN)/product-partners demo --print-curl > /dev/null
	@echo "==> serving on http://$(HOST):$(PORT) (dashboard at /dashboard, API docs at /docs; Ctrl-C stops)"
	@$(BIN)/product-partners serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

# The whole suite, on SQLite and on the real PostgreSQL (and Redis), after installing what it
# needs, on two processes (pytest-xdist; a module's tests stay on one, so the clusters a
# module starts are started once). Exit code 5 (no tests collected) is a failure, never a pass.
PYTEST_ARGS ?= -n 2 --dist loadscope
test: install system-deps services lint
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The long schemathesis run over every operation on PostgreSQL (make test runs a short one):
# PP_FUZZ_CASES generated cases in all (default 12000); prints the counts per operation/status.
PP_FUZZ_CASES ?= 12000
fuzz: install services
	PP_FUZZ_CASES=$(PP_FUZZ_CASES) $(BIN)/python -m pytest -q -p no:randomly tests/test_fuzz_api.py

# The service, on its default settings, against a bare Starlette+asyncpg floor on PostgreSQL,
# with wrk, and how its cost grows with the table; writes bench/results.json. A few minutes;
# BENCH_DURATION, BENCH_SIZES, BENCH_WORKERS, ... scale it (see bench/NOTES.md). Then a
# tenant's latency while bogus keys flood the service (bench/abuse.py), and the dashboard's
# review queue at 1,000,000 partnerships (bench/dashboard.py), and the webhook delivery rate of
# one worker to a local receiver (bench/delivery.py), and the server's memory and rows per second
# exporting 1,000,000 partnerships (bench/export.py).
bench: install system-deps services
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.abuse
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.export

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
