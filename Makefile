# DreamPose companion. `make reproduce` and `make test` work on a fresh clone: they create
# .venv (Python 3.11) if missing and install the package with torch pinned to 2.13.0
# (the CPU wheel on disk; never torchvision, which breaks transformers and torchmetrics).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= tiny
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: reproduce reproduce-from-scratch test browser-test venv bench gpu-check diagnose clean-cache notebooks doctor

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

reproduce: venv  ## from the shipped base and stage-1 weights (weights/tiny/) when they match the settings
	$(BIN)/dreampose reproduce --profile $(PROFILE)

reproduce-from-scratch: venv  ## the same, training the base and the stage-1 models here first
	$(BIN)/dreampose reproduce --profile $(PROFILE) --from-scratch

notebooks: venv  ## execute notebooks/ with papermill (up-to-date ones are skipped; NB="01 02" picks some)
	$(BIN)/python -m dreampose.run_notebooks --profile $(PROFILE) $(NB)
	$(BIN)/python -m dreampose.run_notebooks --runtimes  # wall time of each notebook's last run

test: venv
	$(BIN)/python -m pytest

browser-test: venv  ## the guidance explorer in JupyterLab, driven in headless Chromium (not part of make test)
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)
	$(BIN)/python -c "import selenium" 2>/dev/null || $(BIN)/pip install -q -e '.[dev,browser]'
	$(BIN)/python -m pytest -o addopts=-q -s tests/browser

# The lower bounds of diffusers and transformers, read from pyproject.toml ("diffusers==0.29.0 ...").
LOWEST := $(shell sed -n 's/^ *"\(diffusers\|transformers\)>=\([0-9.]*\)".*/\1==\2/p' pyproject.toml)
TESTS  ?= tests

.PHONY: test-lowest
test-lowest:  ## the tests in .venv-lowest at the lowest supported diffusers and transformers (TESTS= picks some)
	test -x .venv-lowest/bin/python || $(PYTHON) -m venv .venv-lowest
	.venv-lowest/bin/pip install -q --upgrade pip
	.venv-lowest/bin/pip install -q torch==2.13.0 $(LOWEST)
	.venv-lowest/bin/pip install -q -e '.[dev]' $(LOWEST)
	.venv-lowest/bin/python -m pytest $(TESTS)

bench: venv  # speed, quality and memory ratios on the cached tiny artifacts (after `make reproduce`)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

gpu-check: venv  # speed and memory of the paper's models (random weights, no download) on a CUDA GPU; says so without one
	$(BIN)/python -m benchmarks.gpu $(GPU_ARGS)

diagnose: venv  # where the tiny profile's error comes from, on validation subjects (trains variants; PARTS="vae stage1")
	$(BIN)/python -m benchmarks.fidelity $(if $(PARTS),--parts $(shell echo $(PARTS) | tr ' ' ','))

doctor: venv
	$(BIN)/dreampose doctor

clean-cache:
	rm -rf .cache/dreampose
