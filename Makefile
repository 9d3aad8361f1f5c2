# The two commands of the README: `make deploy` (pulumi up of the dev stack) and `make test`.
PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
BIN := $(VENV)/bin
# A local state backend unless you chose another (`pulumi login …` or PULUMI_BACKEND_URL).
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

.PHONY: install state engine engine-if-go need-pulumi deploy preview destroy test lint bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt -r policy/requirements.txt
	touch $@

install: $(BIN)/.installed

state:
	@case "$(PULUMI_BACKEND_URL)" in file://*) mkdir -p "$${PULUMI_BACKEND_URL#file://}";; esac

# The Pulumi engine built from Go modules into .engine/bin (test equipment; see engine/build.sh).
engine: install
	bash engine/build.sh

# What `make test` needs of the engine: built when Go is installed (cached: seconds once built); without
# Go the engine-level tests skip and say why (in CI they fail instead).
engine-if-go: install
	@if command -v go >/dev/null 2>&1; then bash engine/build.sh; \
	else echo "make: no Go toolchain: the engine-level tests will be skipped (install Go, then make engine)"; fi

# `make deploy` needs the Pulumi CLI: say so before anything is installed.
need-pulumi:
	@command -v pulumi >/dev/null 2>&1 || { \
	  echo "make: the Pulumi CLI is not installed (no 'pulumi' on PATH)." >&2; \
	  echo "  Install it: curl -fsSL https://get.pulumi.com | sh   (or brew install pulumi, or see" >&2; \
	  echo "  https://www.pulumi.com/docs/install/), or build it from Go modules with 'make engine'" >&2; \
	  echo "  and put .engine/bin on PATH. Then run 'make deploy' again." >&2; \
	  exit 1; }

deploy: need-pulumi install state
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi stack select --create $(STACK)
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi up --stack $(STACK)

preview: need-pulumi install state
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi stack select --create $(STACK)
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi preview --stack $(STACK) --policy-pack policy

destroy: need-pulumi install state
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi destroy --stack $(STACK)

test: install engine-if-go
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/program_scale.py
	$(BIN)/python benchmarks/algorithms.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
