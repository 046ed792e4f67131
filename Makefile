# Two commands set everything up on a fresh machine with Python 3.11:
#   make demo   create .venv, install seqlab, run the main job on bundled data
#   make test   install the dev extra, lint, run the test suite
# and `make docs` builds the documentation site into site/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test bench docs install install-dev install-bench install-docs lint clean chromium

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip

$(VENV)/.installed: $(PY) pyproject.toml constraints.txt | $(VENV)/.cc
	$(PIP) -e .
	touch $@

# A C compiler builds seqlab's CPU LSTM kernel on first use (without one, nn.LSTM is used
# and the kernel's tests skip): install gcc where apt is available and cc is not.
$(VENV)/.cc: | $(PY)
	@command -v cc >/dev/null || command -v gcc >/dev/null || \
	  (command -v apt-get >/dev/null && (apt-get update -qq && apt-get install -y -qq gcc)) || \
	  echo "warning: no C compiler; seqlab's LSTM kernel falls back to nn.LSTM"
	@if command -v cc >/dev/null || command -v gcc >/dev/null; then touch $@; fi

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

# The browser test drives Debian's chromium through Playwright (Playwright's own browser
# download needs the internet). Without apt (not Debian, not root) this step only warns and
# the browser test skips, saying why.
$(VENV)/.chromium: | $(VENV)/.installed-dev
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  (command -v apt-get >/dev/null && (apt-get update -qq && apt-get install -y -qq chromium)) || \
	  echo "warning: could not install chromium; the browser test will be skipped"
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then touch $@; fi

$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(PIP) -e '.[dev,bench]'
	touch $@

$(VENV)/.installed-docs: $(VENV)/.installed
	$(PIP) -e '.[docs]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-bench: $(VENV)/.installed-bench
install-docs: $(VENV)/.installed-docs
chromium: $(VENV)/.chromium

demo: install
	$(VENV)/bin/seqlab demo

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks notebooks docs/_ext
	$(VENV)/bin/ruff format --check src tests benchmarks notebooks docs/_ext

# The tests run on TEST_WORKERS pytest-xdist workers (2: the CI machine has two cores), each
# with torch on one thread (tests/conftest.py); `make test TEST_WORKERS=auto` uses every core
# and TEST_WORKERS=0 runs them in this one process. --dist loadscope keeps a module's tests on
# one worker, so that its module-scoped fixtures (trained runs, the docs site, the executed
# notebooks) are built once; the modules with the most tests start first.
TEST_WORKERS ?= 2

test: lint chromium
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope

bench: install-bench
	$(VENV)/bin/python benchmarks/run_all.py

# The site (mkdocs.yml) in strict mode: a broken link or a docstring that does not render
# stops the build. `$(PY) -m mkdocs serve` shows it while you edit.
docs: install-docs
	$(PY) -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache
