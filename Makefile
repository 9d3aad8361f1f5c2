# The two commands of the README: `make deploy` (pulumi up of the dev stack) and `make test`.
PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
BIN := $(VENV)/bin
# A local state backend unless you chose another (`pulumi login …` or PULUMI_BACKEND_URL).
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

.PHONY: install state engine engine-if-go need-pulumi deploy preview destroy test lint lock bench clean

# Every Python package comes from the hashed locks (`make lock` writes them; pip itself is in the dev lock),
# so a changed or substituted download fails the install. Then the project (pyproject.toml), editable, with no
# dependencies (they are the locks) and no build isolation (setuptools is in the dev lock): `components` then
# imports from any directory, as the component package and the dynamic providers it starts need. A .pth an
# earlier `make install` wrote (the whole project root on the path) is removed. actionlint is built from its
# Go module (tools/actionlint/go.sum pins it) when Go is installed; otherwise `make lint` builds it then.
$(BIN)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt -r policy/requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --editable .
	$(BIN)/python -c 'import pathlib, site; pathlib.Path(site.getsitepackages()[0], "alb_mtls_package.pth").unlink(missing_ok=True)'
	rm -f $(VENV)/alb_mtls_package.stamp
	@if command -v go >/dev/null 2>&1; then $(MAKE) --no-print-directory $(BIN)/actionlint; \
	else echo "make: no Go toolchain: actionlint not built (make lint needs it: install Go)"; fi
	touch $@

install: $(BIN)/.installed

state:
	@case "$(PULUMI_BACKEND_URL)" in file://*) mkdir -p "$${PULUMI_BACKEND_URL#file://}";; esac

# The Pulumi engine and a Kubernetes control plane built from Go modules into .engine/bin (test equipment;
# see engine/build.sh and engine/cluster.sh).
engine: install
	bash engine/build.sh
	bash engine/cluster.sh

# What `make test` needs of the engine: built when Go is installed (cached: seconds once built); without
# Go the engine-level tests skip and say why (in CI they fail instead).
engine-if-go: install
	@if command -v go >/dev/null 2>&1; then bash engine/build.sh && bash engine/cluster.sh; \
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

# ruff, then the GitHub Actions gate (.github/lint-actions: zizmor offline and actionlint, failing on
# findings of medium severity or above).
lint: install $(BIN)/actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH="$(CURDIR)/$(BIN):$$PATH" .github/lint-actions

$(BIN)/actionlint: tools/actionlint/go.mod tools/actionlint/go.sum
	cd tools/actionlint && go build -o "$(CURDIR)/$@" github.com/rhysd/actionlint/cmd/actionlint

# Regenerate the hashed locks from the .in files (pip-compile, itself pinned in requirements-dev.in): the
# program's first, then the policy pack's and the dev lock, which are held to it. Pins already in a lock are
# kept; move one with `make lock LOCK_ARGS='--upgrade-package pulumi'` (or `LOCK_ARGS=--upgrade` for all).
lock: install
	$(BIN)/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) --output-file=requirements.txt requirements.in
	$(BIN)/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) --output-file=policy/requirements.txt policy/requirements.in
	$(BIN)/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) --output-file=requirements-dev.txt requirements-dev.in
lock: LOCK_FLAGS = --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

bench: install
	$(BIN)/python benchmarks/program_scale.py
	$(BIN)/python benchmarks/algorithms.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
