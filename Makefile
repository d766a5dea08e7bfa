# make run   - install into .venv, migrate the SQLite database under ./var/, import the
#              default bank, make demo accounts (first run) and serve on http://127.0.0.1:8000
# make test  - install what is missing, lint, then the whole suite on SQLite and PostgreSQL
# make lint  - ruff check, ruff format --check, mypy on exam_service/
# make bench - every benchmark in turn (answer save, reports, paper booklets, cohort day, crash,
#              sweep; under 15 minutes on 2 cores), each timed, then one table of the headline
#              figures (bench/summary.py); fails at the end if any script failed
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/exam-service db upgrade
	$(BIN)/exam-service bank import
	$(BIN)/exam-service demo-accounts
	$(BIN)/exam-service serve

lint: $(STAMP)
	$(BIN)/ruff check exam_service tests migrations
	$(BIN)/ruff format --check exam_service tests migrations
	$(BIN)/mypy exam_service

test: lint
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff check --fix exam_service tests migrations
	$(BIN)/ruff format exam_service tests migrations

.PHONY: bench  # a separate line: the bench/ folder would otherwise make the target up to date
BENCHES := answer_save reports paper cohort_day crash sweep
bench: export EXAM_BENCH_SUMMARY := $(CURDIR)/var/bench-summary.jsonl
bench: $(STAMP)
	mkdir -p var
	rm -f $(EXAM_BENCH_SUMMARY)
	failed=0; \
	for name in $(BENCHES); do \
		$(BIN)/python bench/summary.py run bench/$$name.py || failed=1; \
	done; \
	$(BIN)/python bench/summary.py; \
	exit $$failed
