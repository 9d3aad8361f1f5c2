# The two commands of the README: `make deploy` (pulumi up of the dev stack) and `make test`.
PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
BIN := $(VENV)/bin
# A local state backend unless you chose another (`pulumi login …` or PULUMI_BACKEND_URL).
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

.PHONY: install state deploy preview destroy test lint bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt -r policy/requirements.txt
	touch $@

install: $(BIN)/.installed

state:
	@case "$(PULUMI_BACKEND_URL)" in file://*) mkdir -p "$${PULUMI_BACKEND_URL#file://}";; esac

deploy: install state
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi stack select --create $(STACK)
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi up --stack $(STACK)

preview: install state
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi stack select --create $(STACK)
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi preview --stack $(STACK) --policy-pack policy

destroy: install state
	PATH="$(CURDIR)/$(BIN):$$PATH" pulumi destroy --stack $(STACK)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/program_scale.py
	$(BIN)/python benchmarks/algorithms.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
