# One command a newcomer runs: `make demo` (set up + run the demo against the embedded simulator)
# or `make test` (set up + lint + type-check + the whole test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup test check lint typecheck pytest demo bench soak clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,demo,simulator]"
	@# Bytecode now, not at each `noetl-ib` step (PYTHONDONTWRITEBYTECODE=1 would recompile ~32 modules per step).
	$(PY) -m compileall -q noetl_ib_plugin
	@# An independent IBKR client for tests/interop, installed here so no test needs a package index.
	-$(PYTHON) -m venv $(VENV)/ibind && $(VENV)/ibind/bin/python -m pip install --quiet "ibind[oauth]==0.2.2" \
		|| echo "note: ibind[oauth]==0.2.2 not installed; tests/interop will skip"
	@touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

demo: setup
	$(PY) examples/demo.py

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

soak: setup
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
