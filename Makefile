# One command a newcomer runs: `make demo` (set up + run the demo against the embedded simulator)
# or `make test` (set up + lint + type-check + the whole test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup test check lint typecheck pytest wheel-check dist demo bench soak clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=python3.11)")'
	@echo "setup: creating $(VENV) and installing noetl-ib-plugin with its dev, demo and simulator extras (about 40 s the first time)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,demo,simulator]"
	@# Bytecode now, not at each `noetl-ib` step (PYTHONDONTWRITEBYTECODE=1 would recompile ~32 modules per step).
	$(PY) -m compileall -q noetl_ib_plugin
	@# An independent IBKR client for tests/interop, installed here so no test needs a package index.
	@echo "setup: installing ibind[oauth]==0.2.2 into $(VENV)/ibind for the interop tests (about 10 s)"
	-$(PYTHON) -m venv $(VENV)/ibind && $(VENV)/ibind/bin/python -m pip install --quiet "ibind[oauth]==0.2.2" \
		|| echo "note: ibind[oauth]==0.2.2 not installed; tests/interop will skip"
	@touch $(STAMP)
	@echo "setup: done; the commands are in $(VENV)/bin (noetl-ib, noetl): run them from there or 'source $(VENV)/bin/activate'"

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

# Four workers on two cores: the suite mostly waits (servers, subprocesses, deadlines). Tests
# marked serial assert timing that the other workers' CPU use would skew: they run alone after.
PYTEST_WORKERS ?= 4
pytest: setup
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not serial"
	$(VENV)/bin/pytest -q -m serial

test: lint typecheck pytest wheel-check

# The installable artefact: dist/noetl_ib_plugin-<version>-py3-none-any.whl (runtime dependencies only;
# `pip install "dist/<wheel>[simulator]"` declares the simulator extra).
dist:
	rm -rf dist
	$(PYTHON) -m pip wheel --quiet --no-deps --wheel-dir dist .

# The wheel installed like any package (a fresh venv, a normal `pip install`, no dev extras) runs
# `noetl-ib`, the simulator and `entry.main` from there.
WHEEL_VENV := build/wheel-venv
wheel-check: dist
	@echo "wheel-check: installing the wheel into a fresh venv and running it against the simulator (about 15 s)"
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet "$$(ls dist/noetl_ib_plugin-*.whl)[simulator]"
	cd $(WHEEL_VENV) && bin/python $(CURDIR)/tests/wheel_smoke.py

demo: setup
	$(PY) examples/demo.py

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

soak: setup
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info
