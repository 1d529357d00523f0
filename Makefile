# Quick start: `make demo` and `make test`. Each creates .venv if missing and installs what is needed.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CPU-only boxes without a local CPU wheel: make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PYTEST_ARGS ?=

.PHONY: install demo test test-all lint clean-venv apt

install: $(STAMP)

$(STAMP): pyproject.toml requirements/lock.txt requirements/apt.txt Makefile
	@$(MAKE) --no-print-directory apt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "==> installing python packages into $(VENV) (pinned by requirements/lock.txt)"
	@# torch first and alone, named exactly: deepspeed's loose torch>=2.0 must not pull a CUDA build.
	$(BIN)/pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$$(grep -E '^torch==' requirements/lock.txt | sed 's/+.*//')"
	$(BIN)/pip install -q -c requirements/lock.txt -e '.[dev]'
	@bash infra/scripts/prebuild_deepspeed_ops.sh $(BIN)/python || echo "(deepspeed op prebuild skipped; it will JIT-build on first use)"
	@touch $(STAMP)

apt:
	@bash infra/scripts/apt_install.sh requirements/apt.txt

demo: install
	@bash infra/scripts/demo.sh

test: install
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

test-all: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
