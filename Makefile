# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install test-tools run test test-postgres test-sqlite bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Tools some tests drive (`make test` only): Debian's headless Chromium for the docs page, poppler's
# pdftotext and DejaVu Sans for invoice PDFs. Installed when missing and apt-get is there (as root, or
# through sudo); elsewhere a warning, and those tests fail until the tools are installed.
TEST_PACKAGES := chromium chromium-driver poppler-utils fonts-dejavu-core
test-tools:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/pdftotext ] \
		&& [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "warning: no apt-get: install $(TEST_PACKAGES) (or their equivalents) for the browser and PDF tests"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	{ $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $(TEST_PACKAGES); } \
		|| echo "warning: could not install $(TEST_PACKAGES); the browser and PDF tests need them"

run: install
	$(PY) -m worker.launcher

# On PostgreSQL and Redis when they answer (and then on SQLite as well), else SQLite and an embedded Redis.
test: install test-tools
	$(PY) -m pytest -q
	@if $(PY) -m tests.services_up postgres; then \
		echo "== again on SQLite =="; \
		CONVEYOR_TEST_DB=sqlite $(PY) -m pytest -q; \
	fi

bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/submission.py
	$(PY) bench/processing.py
	$(PY) bench/roundtrip.py
	$(PY) bench/streams.py
	$(PY) bench/billing.py
	$(PY) bench/sales.py
	$(PY) bench/imports.py
	$(PY) bench/exports.py
	$(PY) bench/llm.py
	$(PY) bench/refresh.py

clean:
	rm -rf $(VENV) var .pytest_cache
