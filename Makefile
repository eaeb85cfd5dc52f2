# Two commands on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Find a working Python >= 3.12: python3.13, python3.12, python3, then pyenv's installs.
PYTHON ?= $(shell for c in python3.13 python3.12 python3 \
	$$(command -v pyenv >/dev/null 2>&1 && ls -d "$$(pyenv root)"/versions/3.1[3-9]*/bin/python3 "$$(pyenv root)"/versions/3.12*/bin/python3 2>/dev/null); do \
	"$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo "$$c"; break; }; done)

.PHONY: install install-test run migrate demo worker test test-fast bench lint clean

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.12 or newer is needed (tried python3.13, python3.12, python3, pyenv)." >&2; exit 1; fi
	@echo "using $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo

# Serve the site and a real Celery worker (filesystem broker unless CELERY_BROKER_URL/REDIS_URL is set).
run: demo
	@echo ""
	@echo "  Site:      http://$(HOST):$(PORT)/"
	@echo "  Log-ins:   researcher / demo-researcher   annotator1 / demo-annotator   (admin at /admin/)"
	@echo "  Crowd:     http://$(HOST):$(PORT)/crowd/demo/?PROLIFIC_PID=P123&STUDY_ID=S1&SESSION_ID=X1"
	@echo ""
	@trap 'kill 0' EXIT INT TERM; \
	$(PY) -m celery -A annotator worker -B --loglevel=info --concurrency=2 & \
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	$(PY) -m celery -A annotator worker -B --loglevel=info

test: install-test
	$(PY) -m pytest -q

bench: install-test
	$(PY) -m pytest -q -m perf tests/perf -s -p no:randomly

lint: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) var
