# make run   - install into .venv, migrate the SQLite database under ./var/, import the
#              default bank, make demo accounts (first run) and serve on http://127.0.0.1:8000
# make test  - install what is missing, lint, then the whole suite on SQLite and PostgreSQL
# make lint  - ruff check, ruff format --check, mypy on exam_service/
# make bench - answer-save throughput: the app's PUT vs one raw upsert, SQLite and PostgreSQL
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
bench: $(STAMP)
	$(BIN)/python bench/answer_save.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/paper.py
	$(BIN)/python bench/cohort_day.py
	$(BIN)/python bench/crash.py
