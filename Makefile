# The README's two commands: `make run` and `make test`. CI runs `.ci/run`, which is `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-extended test-agents venv lint typecheck pytest system-deps completions docs screenshots bench bench-peers bench-micro clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## Start the daemon; with no providers configured it runs in demo mode against simulated providers.
run: venv
	$(BIN)/tokenhub serve --newcomer

## Everything CI checks: system packages, lint, types, the whole test suite.
test: venv system-deps lint typecheck pytest

system-deps:
	@scripts/install-system-deps.sh

lint: venv
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest

## The long runs (docs/RELIABILITY.md), about 6 minutes: the reliability suite at full
## length (prints its table and writes bench/results/reliability-latest.md), five kill -9s
## under load, 300 + 100 departing clients. `make test` runs the reliability suite short.
test-extended: venv system-deps
	$(BIN)/pytest -m extended tests

## Real coding agents through tokenhub (tests/agents, marker `agents`): installs Claude Code
## from npm (about 240 MB, once) into $(AGENTS_CACHE), then runs `claude -p` against the
## simulator directly and through tokenhub and compares what the simulator received.
## Not part of `make test`. CLAUDE_CODE_VERSION=latest tries the newest release.
AGENTS_CACHE ?= $(or $(TOKENHUB_AGENTS_CACHE),.cache/agents)
CLAUDE_CODE_VERSION ?= 2.1.197
test-agents: venv
	@test -x $(AGENTS_CACHE)/node_modules/.bin/claude || \
		npm install --prefix $(AGENTS_CACHE) --no-audit --no-fund --loglevel=error \
			@anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	TOKENHUB_AGENTS_CACHE=$(abspath $(AGENTS_CACHE)) $(BIN)/pytest -m agents tests/agents

## The README's terminal screenshots (docs/img/*.svg), from a demo daemon.
screenshots: venv
	$(BIN)/python scripts/gen_screenshots.py

## Regenerate checked-in artefacts (shell completions, CLI reference).
completions: venv
	$(BIN)/python scripts/gen_completions.py

docs: venv
	$(BIN)/cog -r docs/CLI.md

## Microbenchmarks (pytest-benchmark): routing, estimation, translation. Not part of `make test`.
bench-micro: venv
	$(BIN)/pytest bench/micro --benchmark-enable --benchmark-columns=min,median,mean,ops -p no:cacheprovider

## Gateway benchmark (bench/README.md): tokenhub against the upstream directly and a lean
## aiohttp floor, with wrk. BENCH_QUICK=1: short runs (~2 min). BENCH_SOAK=1: add the
## 10-minute soak. Results: bench/results/latest.{md,json,png}.
bench: venv
	@scripts/install-bench-deps.sh
	BENCH_QUICK=$(BENCH_QUICK) BENCH_SOAK=$(BENCH_SOAK) $(BIN)/python bench/run.py

## The same, with LiteLLM's proxy as a peer (pinned, in its own venv bench/.venv-litellm).
bench-peers: venv
	@scripts/install-bench-deps.sh
	@bench/peers/install-litellm.sh
	BENCH_QUICK=$(BENCH_QUICK) BENCH_SOAK=$(BENCH_SOAK) $(BIN)/python bench/run.py --peers

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
