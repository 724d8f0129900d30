# The two commands of the README: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK := .ci/constraints.txt
LATEST := .venv-latest

.PHONY: demo test test-latest lock bench lint clean

# editable_mode=compat: a plain path entry, so type checkers see the package
# (setuptools' default editable mode is an import hook mypy and pyright cannot follow)
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -c $(LOCK) --config-settings editable_mode=compat
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/train.py --out artifacts/credit
	$(PY) examples/compare.py artifacts/credit --html artifacts/compare.html
	$(PY) examples/serve.py artifacts/credit
	$(PY) examples/http_client.py artifacts/credit
	$(PY) examples/drift_report.py artifacts/credit --html artifacts/drift.html
	$(PY) examples/outcome_loop.py artifacts/credit --log artifacts/prediction-log --html artifacts/evaluation.html

test: $(STAMP)
	$(PY) -m ruff check featurekit serving tests examples bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

# the newest versions pyproject.toml allows, in a venv of its own: finds a breaking
# release on purpose instead of by surprise
test-latest:
	@test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]' --config-settings editable_mode=compat
	$(LATEST)/bin/python -m pip freeze --exclude-editable | diff $(LOCK) - || true
	$(LATEST)/bin/python -m mypy
	$(LATEST)/bin/lint-imports --no-cache
	$(LATEST)/bin/python -m pytest

# record the dev environment's versions as the constraints make installs with
lock: $(STAMP)
	@head -3 $(LOCK) > $(LOCK).new
	$(PY) -m pip freeze --exclude-editable | grep -v -i '^featurekit' >> $(LOCK).new
	mv $(LOCK).new $(LOCK)

bench: $(STAMP)
	$(PY) bench/predict.py

lint: $(STAMP)
	$(PY) -m ruff check featurekit serving tests examples bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) $(LATEST) artifacts .pytest_cache .mypy_cache .ruff_cache
