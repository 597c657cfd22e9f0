# Two entry points for a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint train clean native wheel wheel-portable

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Compile the extraction core with mypyc where its sources changed since the last build
## (bot/native.py; one to three minutes). Without a C compiler it says so and the bot runs its
## sources, only slower.
native: $(VENV)/.installed
	$(BIN)/python tools/build_native.py --if-stale

## A wheel for deployments that carries the compiled core, tagged for this Python and platform
## (tools/build_wheel.py): dist/guarantees_bot-*.whl. Fails where the core cannot be compiled.
wheel: $(VENV)/.installed
	$(BIN)/python tools/build_wheel.py

## The same wheel tagged manylinux by auditwheel (the oldest glibc its extensions allow), for
## Linux machines other than the one it was built on, with the same CPython version.
wheel-portable: $(VENV)/.installed
	$(BIN)/python tools/build_wheel.py --portable

## Set up, then print the briefing card for "ukraine" from the bundled corpus (no build: the
## card needs no speed).
run: $(VENV)/.installed
	$(BIN)/python -m bot ask ukraine

## Set up, then run the whole test suite.
test: native
	$(BIN)/python -m pytest

## Retrain the learned stage of the extractor from the repo's train split (fixed seed, pinned
## versions in train-constraints.txt, one BLAS thread: the same bits on any machine; about 5-11 min)
## and choose its thresholds on the dev split; writes bot/extraction/learned/artifacts/.
train: native
	$(BIN)/python -m pip install --quiet -e '.[train]' -c train-constraints.txt
	$(BIN)/python -m bot.extraction.learned.train

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data dist .pytest_cache .ruff_cache bot/native.json
	find bot -name '*.so' -delete
