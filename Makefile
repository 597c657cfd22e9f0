# Two entry points for a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint train clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Set up, then print the briefing card for "ukraine" from the bundled corpus.
run: $(VENV)/.installed
	$(BIN)/python -m bot ask ukraine

## Set up, then run the whole test suite.
test: $(VENV)/.installed
	$(BIN)/python -m pytest

## Retrain the learned stage of the extractor from the repo's train split (fixed seed, pinned
## versions in train-constraints.txt, one BLAS thread: the same bits on any machine; about 5-8 min)
## and choose its thresholds on the dev split; writes bot/extraction/learned/artifacts/.
train: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[train]' -c train-constraints.txt
	$(BIN)/python -m bot.extraction.learned.train

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
