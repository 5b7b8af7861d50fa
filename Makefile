# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test test-postgres test-sqlite bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m worker.launcher

# On PostgreSQL and Redis when they answer (and then on SQLite as well), else SQLite and an embedded Redis.
test: install
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

clean:
	rm -rf $(VENV) var .pytest_cache
