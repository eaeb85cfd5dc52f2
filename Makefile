# Two commands on a fresh clone: `make run` and `make test`. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
# The locked dependencies (`make lock` writes them from pyproject.toml): the runtime, then the test extras on top.
LOCK := requirements/lock.txt
LOCK_TEST := requirements/lock-test.txt
HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` serves with DEBUG off (error pages show no settings); `make run DEBUG=1` while developing.
DEBUG ?= 0
# `make bench` recreates this database (its name must start with bench_); override to use another server.
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/bench_affect

# Playwright drives Debian's /usr/bin/chromium; never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# Python >= 3.12 candidates, tried in order by *running* each one (a pyenv shim can exist and still fail):
# $(PYTHON) if given, python3.13, python3.12, python3, pyenv's own installs (newest first), system paths.
PYTHON_CANDIDATES = $(PYTHON) python3.13 python3.12 python3 \
	$$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV) \
	/usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]
PY_OK := import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))

.PHONY: help venv install install-test lock run migrate demo worker test screenshots bench bench-smoke lint format clean

help:
	@echo "make run     install, migrate, load the demo study, serve the site and a Celery worker (with beat)"
	@echo "make test    install with test extras and run the test suite (SQLite unless DATABASE_URL is set)"
	@echo "make bench   benchmarks in tests/perf on PostgreSQL ($(BENCH_DATABASE_URL)), figures -> docs/benchmarks.md"
	@echo "make bench-smoke  every benchmark at a small size (what CI runs): checks, no figures"
	@echo "make screenshots  refresh the README's rating page picture (docs/rating-page.png) from its browser test"
	@echo "make lint    ruff (check, format), mypy, the lock matches pyproject.toml, no missing migrations"
	@echo "make install create $(VENV) and install the dependencies"
	@echo "make lock    refresh $(LOCK) and $(LOCK_TEST) from pyproject.toml (newest allowed versions)"

# The virtual environment. An existing one is kept if its Python works and is new enough.
venv:
	@set -e; \
	if ! $(PY) -c '$(PY_OK)' >/dev/null 2>&1; then \
		found=""; \
		for c in $(PYTHON_CANDIDATES); do \
			if "$$c" -c '$(PY_OK)' >/dev/null 2>&1; then found="$$c"; break; fi; \
		done; \
		if [ -z "$$found" ]; then \
			echo "error: no working Python 3.12 or newer (with venv and ensurepip) was found." >&2; \
			echo "       Tried: python3.13, python3.12, python3, pyenv's versions, /usr/local/bin and /usr/bin." >&2; \
			echo "       Install one (e.g. 'apt-get install python3.12-venv' or 'pyenv install 3.12') or run" >&2; \
			echo "       'make PYTHON=/path/to/python3.12 ...'." >&2; \
			exit 1; \
		fi; \
		echo "Creating $(VENV) with $$found ($$("$$found" --version 2>&1))"; \
		rm -rf $(VENV); \
		"$$found" -m venv $(VENV); \
	fi

$(VENV)/.installed: pyproject.toml $(LOCK)
	@$(MAKE) --no-print-directory venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(LOCK)
	$(PY) requirements/lock.py --check
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed $(LOCK_TEST)
	$(PY) -m pip install -q -r $(LOCK_TEST)
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Re-resolves every pin with pip's resolver (no other tool); then `make install-test` installs the new lock.
lock: venv
	$(PY) requirements/lock.py

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo

# The site and a real Celery worker with beat (kombu's filesystem broker unless CELERY_BROKER_URL/REDIS_URL).
# The site runs under gunicorn with gunicorn.conf.py (on SQLite: one process, a bounded thread pool, so writers
# never queue past SQLite's busy timeout); `make run RELOAD=1` restarts it when the code changes.
RELOAD ?=
run: demo
	@echo ""
	@echo "  Site:   http://$(HOST):$(PORT)/          (researcher pages: /studies/, admin: /admin/)"
	@echo "  Crowd:  http://$(HOST):$(PORT)/crowd/demo/?key=demo&PROLIFIC_PID=P123&STUDY_ID=S1&SESSION_ID=X1"
	@echo "  Log-ins are listed above. Ctrl-C stops the site and the worker."
	@echo ""
	@DEBUG='$(DEBUG)' $(PY) -m celery -A annotator worker -B --loglevel=info --concurrency=2 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG='$(DEBUG)' GUNICORN_BIND='$(HOST):$(PORT)' WEB_RELOAD='$(RELOAD)' $(PY) -m gunicorn --config gunicorn.conf.py annotator.wsgi

worker: install
	$(PY) -m celery -A annotator worker -B --loglevel=info

test: install-test
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "warning: /usr/bin/chromium is missing, so the browser tests will fail; install it with" >&2; \
		echo "         'apt-get install chromium' (Playwright never downloads a browser here)." >&2; \
	fi
	$(PY) -m pytest -q

# The browser tests save their screenshots under var/screenshots/ (ignored); this writes the README's into docs/.
# (docs/study-page.png is taken by hand: the demo study with more simulated annotators than a test makes.)
screenshots: install-test
	SCREENSHOT_DIR=docs $(PY) -m pytest -q \
		tests/browser/test_crowd_flow.py::test_crowd_worker_rates_two_clips_and_gets_the_code
	@ls -l docs/rating-page.png

bench: install-test
	DATABASE_URL='$(BENCH_DATABASE_URL)' $(PY) -m pytest -q -m perf tests/perf -s

# Every benchmark at a small size (CI): integrity checks asserted, performance targets only reported.
bench-smoke: install-test
	BENCH_SMOKE=1 DATABASE_URL='$(BENCH_DATABASE_URL)' $(PY) -m pytest -q -m perf tests/perf -s

# The same checks run on every commit with .pre-commit-config.yaml (`.venv/bin/pre-commit install`).
lint: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) requirements/lock.py --check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m mypy

format: install-test
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) var
