# The two commands: `make run` (service with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# `make run PORT=8100`: where the service listens; the demo's printed links use the port too.
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test test-any-date check lint typecheck test-tools bench bench-tools clean migrate venv mutation mutation-survivors

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) -m app migrate

run: $(STAMP)
	$(PY) -m app migrate
	$(PY) -m app demo --port $(PORT)
	$(PY) -m app serve --host $(HOST) --port $(PORT)

# External calendar clients and the browser used by the tests (idempotent).
test-tools: $(STAMP)
	bash scripts/install-test-tools.sh $(PY)

# The suite runs in TEST_WORKERS processes (pytest-xdist; one per core by default), each with
# a PostgreSQL database of its own (tests/conftest.py); TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= auto
test: $(STAMP) test-tools
	$(PY) -m pytest --cov --cov-report= -n $(TEST_WORKERS) $(PYTEST_ARGS)
	@echo "test: line and branch coverage of app/: $$($(PY) -m coverage report --format=total)%"

# The suite again at other dates (libfaketime, see the script): green only if no test
# depends on today's date.
ANY_DATES ?= 2027-06-15T12:00:00 2029-02-01T00:00:00 2030-12-31T23:55:00
test-any-date: $(STAMP) test-tools
	bash scripts/test-any-date.sh $(PY) $(ANY_DATES) -- -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check app tests benchmarks migrations
	$(VENV)/bin/ruff format --check app tests benchmarks migrations

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

bench-tools:
	bash scripts/install-bench-tools.sh

bench: $(STAMP) bench-tools
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

# Mutation testing of app/scheduling/ (README, "Mutation testing"); not part of `make test`.
# `make mutation MUTANTS='app.scheduling.clock*'` runs one module; MUTATION_CHILDREN sets the
# parallel children (the machine is shared: keep it small). Config: [tool.mutmut]. Bytecode
# caching stays on: the mutated modules are megabytes and would be recompiled per mutant.
MUTMUT_VERSION    ?= 3.8.1
MUTATION_CHILDREN ?= 2
MUTANTS           ?=
$(VENV)/.mutmut-$(MUTMUT_VERSION): $(STAMP)
	$(PY) -m pip install --quiet 'mutmut==$(MUTMUT_VERSION)'
	touch $@

mutation: $(VENV)/.mutmut-$(MUTMUT_VERSION)
	rm -rf mutants
	@start=$$(date +%s); \
	PYTHONDONTWRITEBYTECODE= PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
	nice -n 19 $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS) \
		> mutation.log 2>&1 || { tail -n 40 mutation.log; exit 1; }; \
	$(PY) scripts/mutation_report.py --seconds $$(( $$(date +%s) - start ))

# After adding tests: re-run only the last run's survivors in mutmut, keeping every other result
# (mutmut copies tests/ afresh and collects stats for the new tests first).
mutation-survivors: $(VENV)/.mutmut-$(MUTMUT_VERSION)
	@test -d mutants || { echo "No mutants/ folder: run make mutation first."; exit 1; }
	@start=$$(date +%s); names=$$($(PY) scripts/mutation_report.py --names); \
	if [ -n "$$names" ]; then \
	PYTHONDONTWRITEBYTECODE= PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
	nice -n 19 $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) $$names \
		>> mutation.log 2>&1 || { tail -c 2000 mutation.log; exit 1; }; fi; \
	$(PY) scripts/mutation_report.py --seconds $$(( $$(date +%s) - start ))

clean:
	rm -rf $(VENV) scheduler.db .pytest_cache .mypy_cache .ruff_cache mutants mutation.log
