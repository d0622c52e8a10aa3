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
	@echo "== active decode: a frame pasted from a sniffer log"
	$(VENV)/bin/active decode can 0x356 7A13F2FE6B01
	@echo "== active scan: a simulated 4-pack stack over RS485 and CAN"
	$(VENV)/bin/active scan --sim healthy-4
	@echo "== active check parallel: before linking, one pack 1 V low"
	$(VENV)/bin/active check parallel --sim mismatch || echo "(exit $$?: the check fails, as it must for a pack 1 V low)"
	@echo "== active check wiring / protocol for a Deye inverter"
	$(VENV)/bin/active check wiring --inverter deye
	$(VENV)/bin/active check protocol --inverter deye --sim healthy-4
	$(VENV)/bin/active check sizing --inverter-power 8000 --packs 2 --load 2000

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict active_cli
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest -q

bench: $(STAMP)
	for b in benches/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
