# The README's two commands. Both create .venv and install the project into it
# the first time (or when pyproject.toml changes); nothing else needs installing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/active --help
	$(VENV)/bin/active decode rs485 '~20024600B07E1102100CE40CE50CE60CE70CE80CE90CEA0CEB0CEC0CED0CEE0CEF0CF00CF10CF20CF3050BAF0BA50BA50BA60BA7007BCEA4FFFF04FFFF000C0138800186A0E087'
	$(VENV)/bin/active decode can 0x356 7A13F2FE6B01

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict active_cli

test: lint
	$(PY) -m pytest -q

bench: $(STAMP)
	for b in benches/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
