# The two commands of the README: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint clean

# editable_mode=compat: a plain path entry, so type checkers see the package
# (setuptools' default editable mode is an import hook mypy and pyright cannot follow)
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/train.py --out artifacts/credit
	$(PY) examples/serve.py artifacts/credit
	$(PY) examples/http_client.py artifacts/credit
	$(PY) examples/drift_report.py artifacts/credit --html artifacts/drift.html

test: $(STAMP)
	$(PY) -m ruff check featurekit serving tests examples bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/predict.py

lint: $(STAMP)
	$(PY) -m ruff check featurekit serving tests examples bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) artifacts .pytest_cache .mypy_cache .ruff_cache
