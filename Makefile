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
	@mkdir -p out
	@rm -f out/session.json out/mismatch.json
	@echo "== active commission: four simulated packs and a Deye inverter, start to finish"
	$(VENV)/bin/active commission --inverter deye --sim healthy-4 --packs 4 --yes \
		--answers docs/examples/answers.toml --settle 5 \
		--session out/session.json --html out/ticket.html --pdf out/ticket.pdf
	@echo "== the same stack with one pack 1 V low: the run stops before linking"
	$(VENV)/bin/active commission --inverter deye --sim mismatch --packs 4 --yes \
		--session out/mismatch.json --no-report \
		|| echo "(exit $$?: stopped before linking, as it must for a pack 1 V low)"
	@echo "== the ticket: out/ticket.html and out/ticket.pdf (active report out/session.json remakes it)"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict active_cli
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest -q -n 2

bench: $(STAMP)
	for b in benches/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist out .mypy_cache .pytest_cache .ruff_cache
