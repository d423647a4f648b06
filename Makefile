# FCN Sneakers: `make book` builds the book on the cpu profile, `make test` runs every check.
# Both create .venv and install on first use. `make book PROFILE=full` is the CUDA reproduction.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PROFILE ?= cpu
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The same pins as environment.yml (checked by tests/test_environment.py).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
EXTRAS := book,test
# PyTorch's wheels come from PyPI by default (CUDA builds, about 6 GB installed). On a machine without a
# GPU, `make book TORCH_INDEX=https://download.pytorch.org/whl/cpu` installs the CPU-only builds instead.
TORCH_INDEX ?=

# Small CPUs: one intra-op thread pool, sized to the machine, no oversubscription.
export OMP_NUM_THREADS ?= $(shell nproc 2>/dev/null || echo 2)
export MKL_NUM_THREADS ?= $(OMP_NUM_THREADS)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
EXEC_DIR := artifacts/$(PROFILE)/executed
EXECUTED := $(patsubst notebooks/%.py,$(EXEC_DIR)/%.ipynb,$(NOTEBOOKS))
LIBRARY := $(wildcard fcn_lib/*.py fcn_lib/*/*.py) notebooks/profiles/$(PROFILE).yaml
# The cpu book lands in _build/html; other profiles in build/<profile>/_build/html.
BOOK_OUT := $(if $(filter cpu,$(PROFILE)),.,build/$(PROFILE))
NOTEBOOK_TIMEOUT ?= 3600

.PHONY: help venv fetch book notebooks test unit nbval lint format clean

help:
	@echo "make book [PROFILE=cpu|smoke|full]  run the notebooks with papermill, then build the book"
	@echo "make test                          lint, unit tests, nbval on the smoke profile, smoke book build"
	@echo "make lint | format | clean"

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install $(TORCH_PINS) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -e '.[$(EXTRAS)]'
	touch $@

# The full profile trains on real data: fetched into data/ once (internet needed), then found there.
FETCH := $(if $(filter full,$(PROFILE)),voc2012 zappos50k)
fetch: | $(VENV)/.installed
	$(foreach name,$(FETCH),$(BIN)/fcn-sneakers fetch $(name) --out data &&) true

# Each notebook reruns when its source, the library or the profile changed, or when the notebook
# before it reran (later notebooks load the checkpoints of earlier ones).
$(EXEC_DIR)/%.ipynb: notebooks/%.py $(LIBRARY) | $(VENV)/.installed fetch
	$(BIN)/fcn-sneakers execute --profile $(PROFILE) --out $(EXEC_DIR) --timeout $(NOTEBOOK_TIMEOUT) $<
previous :=
$(foreach nb,$(EXECUTED),$(eval $(nb): $(previous))$(eval previous := $(nb)))

notebooks: $(EXECUTED)

book: notebooks | $(VENV)/.installed
	rm -rf book/executed && mkdir -p book/executed/figures
	$(if $(EXECUTED),cp $(EXECUTED) book/executed/)
	if [ -d artifacts/$(PROFILE)/figures ]; then cp artifacts/$(PROFILE)/figures/*.png book/executed/figures/; fi
	$(BIN)/jupyter-book build . -W -n --keep-going --path-output $(BOOK_OUT)
	@echo "book: $(BOOK_OUT)/_build/html/index.html"

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check notebooks

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format notebooks

unit: $(VENV)/.installed
	$(BIN)/python -m pytest tests

# nbval runs the notebooks as CI would see them: parametrised with the smoke profile by papermill.
nbval: $(VENV)/.installed
	rm -rf build/nbval
	$(BIN)/fcn-sneakers execute --prepare-only --profile smoke --out build/nbval $(NOTEBOOKS)
	$(if $(NOTEBOOKS),$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider build/nbval)

# The smoke book is built as if published from a repository, so that its buttons can be checked.
SMOKE_REPOSITORY := https://github.com/fcn-sneakers/fcn-sneakers
test: lint unit nbval
	BOOK_REPOSITORY_URL=$(SMOKE_REPOSITORY) $(MAKE) book PROFILE=smoke
	$(BIN)/python tests/check_html.py build/smoke/_build/html --repository $(SMOKE_REPOSITORY)

clean:
	rm -rf _build build book/executed artifacts data/cache .pytest_cache .ruff_cache
