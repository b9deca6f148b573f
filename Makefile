# Build and test the aimnotes book. Everything runs in ./.venv, created from the
# exact pins in constraints.txt on Python 3.11 the first time it is needed.
#
#   make test        unit tests + notebook checks (pytest, nbval on the chapters)
#   make book        executed HTML book in _build/html (Sphinx -W: warnings are errors)
#
# Run `make help` for the other targets.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The size the notebook checks and their references use (see aimnotes/config.py).
TEST_SIZE := quick
# Chapter(s) for `make reference`; empty means every notebook chapter in _toc.yml.
CHAPTER ?=
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k perceptron -x".
PYTEST_ARGS ?=

PYTEST_NB := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

# MathJax bundled into the book for offline reading (`make mathjax`, run by `make book`):
# the npm package, pinned by version and by the SHA-256 of its tarball. Without npm the
# book still builds and loads MathJax from the CDN (book/_ext/aimnotes_html.py).
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256  := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX_DIR     := _build/mathjax
MATHJAX_PARTS   := tex-mml-chtml.js input output/chtml a11y ui sre adaptors

# Fingerprint of what the executed chapters depend on besides their code cells
# (jupyter-cache keys only on those): the package, the pins and the size level.
BOOK_HASH_FILE := _build/.aimnotes-hash
BOOK_SIZE = $(or $(AIMNOTES_SIZE),default)
BOOK_HASH = { find aimnotes -name '*.py' -type f | LC_ALL=C sort | xargs sha256sum; \
              sha256sum constraints.txt pyproject.toml benchmarks/*.json; \
              echo "AIMNOTES_SIZE=$(BOOK_SIZE)"; } | sha256sum | cut -d' ' -f1

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help test book reference benchmarks check-install clean distclean venv mathjax \
        browser-test

help: ## Show this help
	@echo "Usage: make <target>   (first use creates .venv from constraints.txt with $(PYTHON))"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

test: $(STAMP) ## Unit tests and notebook checks (AIMNOTES_SIZE=quick)
	AIMNOTES_SIZE=$(TEST_SIZE) $(BIN)/python -m pytest $(PYTEST_NB) $(PYTEST_ARGS)

book: $(STAMP) ## Execute every chapter and build the HTML book into _build/html
	@mkdir -p _build
	@new=$$($(BOOK_HASH)); \
	old=$$(cat $(BOOK_HASH_FILE) 2>/dev/null || true); \
	if [ "$$new" != "$$old" ]; then \
	  echo "aimnotes, pins or AIMNOTES_SIZE changed: clearing _build and the execution cache"; \
	  $(BIN)/jupyter-book clean --all . ; \
	  mkdir -p _build; echo "$$new" > $(BOOK_HASH_FILE); \
	fi
	@echo "$(BOOK_SIZE)" > _build/.aimnotes-size
	@$(MAKE) --no-print-directory mathjax
	AIMNOTES_PROGRESS=0 $(BIN)/jupyter-book build --all -W -n --keep-going .
	@echo "Book: _build/html/index.html (offline: $(BIN)/python -m http.server -d _build/html)"

mathjax: ## Bundle MathJax (npm registry, pinned) into _build/mathjax for offline reading
	@if [ "$$(cat $(MATHJAX_DIR)/VERSION 2>/dev/null)" = "$(MATHJAX_VERSION)" ]; then exit 0; fi; \
	if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm not found: the book will load MathJax from the CDN (no offline maths)"; exit 0; \
	fi; \
	set -e; rm -rf $(MATHJAX_DIR); mkdir -p $(MATHJAX_DIR)/static/mathjax; \
	npm pack --silent --pack-destination $(MATHJAX_DIR) mathjax@$(MATHJAX_VERSION) >/dev/null; \
	tgz=$(MATHJAX_DIR)/mathjax-$(MATHJAX_VERSION).tgz; \
	echo "$(MATHJAX_SHA256)  $$tgz" | sha256sum --check --quiet -; \
	tar -xzf $$tgz -C $(MATHJAX_DIR)/static/mathjax --strip-components=2 \
	  $(addprefix package/es5/,$(MATHJAX_PARTS)); \
	tar -xzf $$tgz -C $(MATHJAX_DIR)/static/mathjax --strip-components=1 package/LICENSE; \
	rm $$tgz; echo "$(MATHJAX_VERSION)" > $(MATHJAX_DIR)/VERSION; \
	echo "MathJax $(MATHJAX_VERSION) bundled in $(MATHJAX_DIR)/static/mathjax"

browser-test: $(STAMP) ## Open every page of _build/html in headless Chromium (after make book)
	AIMNOTES_REQUIRE_BROWSER_TEST=1 $(BIN)/python -m pytest tests/test_browser.py $(PYTEST_ARGS)

reference: $(STAMP) ## Regenerate tests/reference/*.ipynb (all chapters, or CHAPTER=book/x.md)
	AIMNOTES_SIZE=$(TEST_SIZE) $(BIN)/python tests/make_reference.py $(CHAPTER)

benchmarks: book ## make book, benchmarks/run.py, chapter times: benchmarks/*.json (book/benchmarks.md)
	@if [ -f benchmarks/run.py ]; then \
	  $(BIN)/python benchmarks/run.py; \
	else \
	  echo "benchmarks/run.py does not exist"; exit 1; \
	fi
	$(BIN)/python benchmarks/book_times.py

check-install: ## Non-editable install into a throwaway venv, imported from outside the checkout
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install --quiet -c constraints.txt . && \
	cd "$$tmp" && "$$tmp/venv/bin/python" -c 'import aimnotes, aimnotes.testing; \
	from aimnotes import glm, priors, channels; \
	assert "site-packages" in aimnotes.__file__, aimnotes.__file__; \
	se = glm.state_evolution([1.0, 2.0], priors.Rademacher(), channels.Sign()); \
	print("installed", aimnotes.__version__, "from", aimnotes.__file__, "mse", se.mse)'

venv: $(STAMP) ## Create or update .venv only

clean: ## Remove build outputs and caches (keeps .venv)
	rm -rf _build .pytest_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv
	rm -rf $(VENV)

# The venv is (re)installed when missing or older than the pins / package metadata.
$(STAMP): constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "$(VENV) is not Python 3.11, which the pins are for: make distclean, then make PYTHON=/path/to/python3.11 ...")'
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $@
