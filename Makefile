# Scout — everything a newcomer needs is a target here. `make demo` and
# `make test` set up the virtualenv, the tools and the generated stubs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TOOLS := .tools
BUF := $(TOOLS)/node_modules/.bin/buf
BUF_VERSION := 1.75.0
GEN_DIR := clients/python/src
PROTOS := $(wildcard protos/scout/v1/*.proto)
LOCK := requirements/dev.txt


.PHONY: system-deps help setup lock check-lock readme-config protos check-protos unasync check-unasync lint buf-lint buf-breaking typecheck test test-fast demo run bench eval docker clean

help:
	@echo "make demo    - set everything up and run a full research session (embedded DynamoDB, offline model)"
	@echo "make test    - set everything up and run the whole suite"
	@echo "make run     - start the server on the embedded default"
	@echo "make protos  - regenerate the Python stubs from protos/"
	@echo "make unasync - regenerate the blocking client (client.py, ...) from the asyncio one (aio.py, ...)"
	@echo "make lock    - re-resolve requirements/*.txt (hashes) from pyproject.toml"
	@echo "make bench   - run the benchmarks and print ratios against the floor"
	@echo "make eval    - score the dossiers of the frozen set in eval/ (RECORD_FLOOR=1 re-records the floor)"

# The locked dependencies (hashes checked), then the two local packages on top of them:
# editable installs cannot be hashed, so they come without dependencies of their own.
$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r $(LOCK)
	$(PIP) install --quiet --no-deps --no-build-isolation -e ./clients/python -e .
	touch $@

# Re-resolve the lock files from requirements/*.in and pyproject.toml, keeping every pin
# that still fits (UPGRADE=1 takes the newest versions instead).
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --no-emit-package scout-client \
	--no-emit-package scout-service --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

# README.md's configuration table, regenerated from scout_service/config.py's OPTIONS.
readme-config: $(VENV)/.installed
	$(PY) scripts/readme_config.py

lock: $(VENV)/.installed
	$(UV_COMPILE) requirements/dev.in -o requirements/dev.txt
	$(UV_COMPILE) requirements/runtime.in -c requirements/dev.txt -o requirements/runtime.txt
	$(UV_COMPILE) requirements/build.in -c requirements/dev.txt -o requirements/build.txt

# Fails when pyproject.toml or requirements/*.in changed without `make lock`.
check-lock: $(VENV)/.installed
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cp requirements/*.txt $$tmp/ && \
	$(UV_COMPILE) requirements/dev.in -o $$tmp/dev.txt && \
	$(UV_COMPILE) requirements/runtime.in -c requirements/dev.txt -o $$tmp/runtime.txt && \
	$(UV_COMPILE) requirements/build.in -c requirements/dev.txt -o $$tmp/build.txt && \
	for f in dev runtime build; do diff -q requirements/$$f.txt $$tmp/$$f.txt || exit 1; done \
	|| { echo "the lock files are stale: run 'make lock' and commit requirements/"; exit 1; }

$(BUF):
	@command -v npm >/dev/null || { echo "npm is needed for buf: apt-get install -y npm"; exit 1; }
	npm install --silent --no-save --no-audit --no-fund --prefix $(TOOLS) @bufbuild/buf@$(BUF_VERSION)

setup: $(VENV)/.installed $(BUF)

protos: $(VENV)/.installed
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=$(GEN_DIR) --pyi_out=$(GEN_DIR) \
		--grpc_python_out=$(GEN_DIR) $(PROTOS)
	$(PY) -m grpc_tools.protoc -Iprotos --include_source_info \
		--descriptor_set_out=$(GEN_DIR)/scout/v1/descriptor_set.binpb $(PROTOS)

check-protos: protos
	@git diff --exit-code --stat -- $(GEN_DIR)/scout || \
		{ echo "generated stubs drifted from protos/: run 'make protos' and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- $(GEN_DIR)/scout)" || \
		{ echo "untracked generated stubs: run 'make protos' and commit them"; exit 1; }
	@if [ -f ../shared/check-contract.py ]; then $(PY) ../shared/check-contract.py; fi

# The blocking client is generated from the asyncio one (scripts/unasync.py explains how).
unasync: $(VENV)/.installed
	$(PY) scripts/unasync.py

check-unasync: $(VENV)/.installed
	@$(PY) scripts/unasync.py --check

buf-lint: $(BUF)
	$(BUF) lint

# Fails when protos/ breaks wire (and JSON) compatibility with main's.
buf-breaking: $(BUF)
	@if git rev-parse --verify -q main >/dev/null && git cat-file -e main:protos 2>/dev/null; then \
		$(BUF) breaking protos --against '.git#branch=main,subdir=protos'; \
	else echo "buf breaking: main has no protos/ yet, nothing to compare"; fi

lint: $(VENV)/.installed buf-lint
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/ruff check scout_service clients/python/src/scout_client tests bench eval
	$(VENV)/bin/mypy

system-deps:
	@scripts/system-deps.sh test

test: system-deps $(VENV)/.installed $(BUF) check-lock check-protos check-unasync buf-lint buf-breaking lint
	GRPC_ENABLE_FORK_SUPPORT=0 $(PY) -m pytest

demo: $(VENV)/.installed
	@scripts/system-deps.sh demo
	$(PY) -m scout_service.demo

run: $(VENV)/.installed
	$(VENV)/bin/scout-service serve

bench: $(VENV)/.installed
	$(PY) -m bench

# Model settings on the command line (SCOUT_MODEL_PROVIDER=bedrock BEDROCK_MODEL_ID=...) reach
# the server through the environment; RECORD_FLOOR=1 writes eval/floor.json from this run.
eval: $(VENV)/.installed
	$(PY) -m eval $(if $(RECORD_FLOOR),--record-floor)

docker:
	docker build -t scout-service .

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache out
