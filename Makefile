# make run   - install into .venv, migrate the SQLite database under ./var/, import the
#              default bank, make demo accounts (first run) and serve on http://127.0.0.1:8000
# make test  - install what is missing, lint, then the whole suite on SQLite and PostgreSQL
# make lint  - the locks agree with pyproject.toml, ruff check, ruff format --check, mypy
# make lock  - re-resolve requirements*.lock from pyproject.toml (on purpose, then re-test);
#              one package only: make lock UPGRADE=name
# make fonts - check the fonts the PDFs embed; install Debian's packages when missing (as root)
# make bench - every benchmark in turn (answer save, reports, paper booklets, cohort day, crash,
#              sweep, heavy work, item response theory, database restart: it restarts the machine's
#              PostgreSQL, a sitting's score reports as one ZIP, banks of up to 100,000 questions:
#              about 8 minutes of its own; under 30 minutes on 2 cores), each timed, then one table
#              of the headline
#              figures (bench/summary.py); fails at the end if any script failed
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format lock fonts
FONT_PACKAGES := fonts-liberation fonts-dejavu-core fonts-noto-core fonts-wqy-microhei fonts-symbola

# Exactly the locked versions (hashes checked), then the project itself without resolving
# anything: the build backend comes from the lock too.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The PDFs embed Debian's fonts (exam_service/typeset.py); as root, install what is missing.
fonts: $(STAMP)
	@$(BIN)/python -m exam_service.typeset >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends $(FONT_PACKAGES); \
		fi; \
		$(BIN)/python -m exam_service.typeset || { \
			echo "install the fonts: sudo apt-get install $(FONT_PACKAGES)"; exit 1; }; }

lock: $(STAMP)
	$(BIN)/python tools/lock.py $(if $(UPGRADE),--upgrade-package $(UPGRADE))

# The server runs without the fonts (only PDFs need them): `run` installs them as root and
# otherwise says what is missing, then serves anyway.
run: $(STAMP)
	@$(MAKE) --no-print-directory fonts || echo "PDF downloads will fail until the fonts are installed"
	$(BIN)/exam-service db upgrade
	$(BIN)/exam-service bank import
	$(BIN)/exam-service demo-accounts
	$(BIN)/exam-service serve

lint: $(STAMP)
	$(BIN)/python tools/lock.py --check
	$(BIN)/ruff check exam_service tests migrations
	$(BIN)/ruff format --check exam_service tests migrations
	$(BIN)/mypy exam_service

# axe-core for the end-to-end accessibility checks, from npm, exactly as locked.
AXE := tests/e2e/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/e2e/axe/package.json tests/e2e/axe/package-lock.json
	cd tests/e2e/axe && npm ci --no-audit --no-fund --silent
	touch $(AXE)

test: lint fonts $(AXE)
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff check --fix exam_service tests migrations
	$(BIN)/ruff format exam_service tests migrations

.PHONY: bench  # a separate line: the bench/ folder would otherwise make the target up to date
BENCHES := answer_save reports paper cohort_day crash sweep heavy irt db_restart sitting_zip bank_size
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
