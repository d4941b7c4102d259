# legion-misp: the two front-door commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench
# Which interpreter made .venv: written after the first install that succeeds.
PYTHON_ID := $(shell $(PYTHON) -c 'import sys; print(sys.implementation.cache_tag + "@" + sys.base_prefix)' 2>/dev/null)
VENV_ID := $(VENV)/.python-id

# A .venv made by another Python, or left by a failed install (no id yet), is rebuilt from scratch.
ifneq ($(PYTHON_ID),)
ifneq ($(wildcard $(VENV)),)
ifneq ($(shell cat $(VENV_ID) 2>/dev/null),$(PYTHON_ID))
$(info Rebuilding $(VENV): it was made by another Python or left by a failed install)
$(shell rm -rf $(VENV))
endif
endif
endif

.PHONY: demo test bench docs lint clean help

help:
	@echo "make demo   - create .venv, install legion-misp, run 'legion demo' (writes ./demo-output/)"
	@echo "make test   - create .venv, install with test extras, run ruff and pytest"
	@echo "make bench  - run the benchmarks, write benchmarks/results.md and benchmarks/results.json, update docs/"
	@echo "make docs   - regenerate docs/configuration.md and docs/benchmarks.md from the code and benchmarks/results.md"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEMO): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[modules,demo]'
	echo '$(PYTHON_ID)' > $(VENV_ID)
	touch $@

$(STAMP_TEST): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	echo '$(PYTHON_ID)' > $(VENV_ID)
	touch $@ $(STAMP_DEMO)

$(STAMP_BENCH): $(STAMP_TEST)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

demo: $(STAMP_DEMO)
	$(BIN)/legion demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP_BENCH)
	$(BIN)/python -m benchmarks.run_all
	$(BIN)/python docs/generate.py

docs: $(STAMP_DEMO)
	$(BIN)/python docs/generate.py

clean:
	rm -rf $(VENV) demo-output benchmarks/out
