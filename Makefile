# The two commands: `make run` (service with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck test-tools bench bench-tools clean migrate venv mutation

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
	$(PY) -m app demo
	$(PY) -m app serve

# External calendar clients and the browser used by the tests (idempotent).
test-tools: $(STAMP)
	bash scripts/install-test-tools.sh $(PY)

test: $(STAMP) test-tools
	$(PY) -m pytest $(PYTEST_ARGS)

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

clean:
	rm -rf $(VENV) scheduler.db .pytest_cache .mypy_cache .ruff_cache mutants mutation.log
