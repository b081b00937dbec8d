# MotCua — make help lists the targets.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: help install install-fonts install-browser run db demo test test-sqlite test-postgres bench lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# bpmn-js for the modeler and viewer, served by the app itself (no CDN): npm ci from the lockfile
node_modules/.installed: package.json $(wildcard package-lock.json)
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the BPMN modeler (apt-get install nodejs npm)"; exit 1; }
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	@touch $@

install: $(VENV)/.installed node_modules/.installed install-fonts  ## create .venv, install the Python and npm packages the app needs

# Liberation Serif (Times New Roman metrics, every Vietnamese glyph) is embedded in the PDF papers
FONT_FILE := /usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf
install-fonts:  ## Debian's fonts-liberation2 for the PDF papers (apt only when the font is missing)
	@test -f $(FONT_FILE) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-liberation2 >/dev/null; }

install-browser:  ## Debian's Chromium and fonts for the browser tests
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation2 >/dev/null; }

db: install  ## migrate the database (SQLite by default, DATABASE_URL otherwise)
	$(FLASK) db upgrade heads

demo: db  ## seed the demo agencies, users and procedures
	$(FLASK) seed demo

run: demo  ## set everything up and serve the app at http://127.0.0.1:5000 (scheduler and partner simulators beside it)
	@$(PY) -m connectors.demo env > instance/partners.env
	@$(PY) -m connectors.demo serve & partners=$$!; \
	$(FLASK) -e instance/partners.env jobs run & jobs=$$!; \
	trap 'kill $$jobs $$partners 2>/dev/null; wait $$jobs $$partners 2>/dev/null' EXIT INT TERM; \
	$(FLASK) -e instance/partners.env run --host $(HOST) --port $(PORT)

test: install install-browser  ## set everything up and run the whole suite on SQLite, then on PostgreSQL
	$(PY) -m pytest -n 2 --dist loadfile
	TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest -n 2 --dist loadfile -m "not browser" tests/integration tests/workflows

test-sqlite: install  ## the suite on SQLite only
	$(PY) -m pytest

bench: install  ## the benchmark: raw SpiffWorkflow vs the app over HTTP (see bench/README.md)
	$(PY) bench/run.py

lint: install  ## ruff
	$(VENV)/bin/ruff check .

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) instance node_modules
