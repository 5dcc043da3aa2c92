# Two commands for a fresh machine: `make run` (the bot, locally) and `make test` (the suite).
# Each creates the virtualenv it needs from the pinned requirements first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# The SAM CLI and cfn-lint pin their own boto3/botocore: they get a virtualenv of their own,
# shared by every `make test` (whatever PYTHON/VENV it runs with).
DEPLOY_PYTHON ?= python3
DEPLOY_VENV ?= .venv-deploy
DEPLOY_BIN := $(DEPLOY_VENV)/bin

# Lambda runs python3.13: the artifact's bytecode must be compiled by a 3.13 interpreter.
# First python3.13 that really runs (a pyenv shim may not): PATH, then pyenv's versions.
# Looked up once per make run (:=), newest pyenv version first, as .ci/run and bench/artifact.py do.
ifndef PYTHON313
PYTHON313 := $(shell for p in python3.13 $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
endif

.PHONY: run test test-one lint manifest deploy-tools deploy-check lock build-SlackBotFunction bench clean

$(BIN)/.local-deps: requirements.txt requirements-local.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-local.txt
	touch $@

$(BIN)/.dev-deps: $(BIN)/.local-deps requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

$(DEPLOY_BIN)/.deploy-deps: requirements-deploy.txt
	$(DEPLOY_PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_BIN)/python -m pip install -q --upgrade pip
	$(DEPLOY_BIN)/python -m pip install -q -r requirements-deploy.txt
	touch $@

# A failed start is one `error: ...` line (python -m bolt_app exits 1 or 2, for scripts); make would add
# its own `make: *** [Makefile:…: run] Error 2` under it, so `make run` ends there, with status 0.
run: $(BIN)/.local-deps
	@$(BIN)/python -m bolt_app $(ARGS) || true

# make manifest ARGS="--url https://…/slack/events"   (or ARGS=--socket-mode)
manifest:
	@# Setting up .venv the first time prints to stderr, so stdout stays the manifest alone.
	@$(MAKE) -s --no-print-directory $(BIN)/.local-deps >&2
	@$(BIN)/python -m bolt_app manifest $(ARGS)

lint: $(BIN)/.dev-deps
	$(BIN)/ruff check .

# The deploy checks (tests/test_deploy.py) run the SAM CLI and cfn-lint from their own virtualenv.
# -v: each test's name as it starts, so a long step (sam build, cfn-lint) shows which one it is, not a hang.
# One file or test: make test PYTEST_ARGS="tests/test_core_bot.py -k echo".
test: lint $(DEPLOY_BIN)/.deploy-deps
	DEPLOY_BIN="$(abspath $(DEPLOY_BIN))" $(BIN)/python -m pytest -v $(PYTEST_ARGS)

# One test file or test without lint: make test-one T=tests/test_playground.py (or T="tests/x.py::test_y").
# The deploy checks need `make deploy-tools` first.
test-one: $(BIN)/.dev-deps
	@test -n "$(T)" || { echo 'error: say which test: make test-one T=tests/test_playground.py' >&2; exit 2; }
	DEPLOY_BIN="$(abspath $(DEPLOY_BIN))" $(BIN)/python -m pytest -v $(T) $(PYTEST_ARGS)

# `sam` and `cfn-lint` on your PATH for deploying: `make deploy-tools && . .venv-deploy/bin/activate`.
deploy-tools: $(DEPLOY_BIN)/.deploy-deps

# Only the offline deploy checks: sam validate --lint, the transformed template, sam build, the manifest.
deploy-check: $(BIN)/.dev-deps $(DEPLOY_BIN)/.deploy-deps
	DEPLOY_BIN="$(abspath $(DEPLOY_BIN))" $(BIN)/python -m pytest tests/test_deploy.py tests/test_manifest.py $(PYTEST_ARGS)

# requirements.lock: what ships to Lambda, requirements.txt plus every transitive dependency, each pinned
# with the hashes of its files, resolved for Lambda's platform (CPython 3.13, manylinux arm64). Run after
# changing requirements.txt (tests/test_deploy.py fails until the two agree); versions already locked stay
# unless they must move. `make lock ARGS=--upgrade` moves every transitive dependency to its newest release.
LOCK ?= requirements.lock

lock: $(DEPLOY_BIN)/.deploy-deps
	$(DEPLOY_BIN)/uv pip compile requirements.txt --quiet --generate-hashes --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --custom-compile-command "make lock" -o "$(LOCK)" $(ARGS)

# Called by `sam build` (BuildMethod: makefile) with ARTIFACTS_DIR set; no Docker needed.
# The artifact holds only what runs on Lambda: the runtime wheels for arm64/python3.13 from requirements.lock,
# each checked against its hash (boto3 and botocore come with the runtime, so no requirement may pull them
# in), handler.py, policy.toml (the command policy) and bolt_app/ minus its local-only code, and bytecode
# compiled for 3.13. /var/task is read-only, so without .pyc files every cold start recompiles every
# module; unchecked-hash .pyc files are used as they are, whatever mtimes the zip round trip leaves.
# Their paths (in tracebacks) read /var/task/..., where Lambda unpacks the artifact.
build-SlackBotFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "error: ARTIFACTS_DIR is not set (run 'sam build')" >&2; exit 1; }
	@test -n "$(PYTHON313)" || { echo "error: no working python3.13 found (Lambda's runtime compiles the bytecode);" \
		"install it or pass PYTHON313=/path/to/python3.13" >&2; exit 1; }
	@# pip installs wheels for another platform from any interpreter: the first one that has pip
	@# (a distribution's python3.13 may come without it).
	pip_python=$$(for p in "$(PYTHON313)" "$(abspath $(DEPLOY_BIN))/python" python3; do \
		"$$p" -m pip --version >/dev/null 2>&1 && { echo "$$p"; break; }; done); \
	test -n "$$pip_python" || { echo "error: no Python with pip found to install the wheels" >&2; exit 1; }; \
	"$$pip_python" -m pip install --quiet --disable-pip-version-check --no-compile \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --only-binary=:all: \
		--require-hashes --target "$(ARTIFACTS_DIR)" -r "$(LOCK)"
	@for pkg in boto3 botocore; do if [ -e "$(ARTIFACTS_DIR)/$$pkg" ]; then \
		echo "error: $$pkg got into the artifact (a requirement pulls it in); the Lambda runtime provides it" >&2; \
		exit 1; fi; done
	rm -rf "$(ARTIFACTS_DIR)/bin"
	cp handler.py policy.toml "$(ARTIFACTS_DIR)/"
	cp -R bolt_app "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/bolt_app/local" "$(ARTIFACTS_DIR)/bolt_app/__main__.py"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	"$(PYTHON313)" -m compileall -q -j 0 -f --invalidation-mode unchecked-hash \
		-s "$(ARTIFACTS_DIR)" -p /var/task "$(ARTIFACTS_DIR)"

# The benchmark (README, "Performance") runs on Lambda's python3.13 (PYTHON313 above) when this
# machine has one, in the same venv as .ci/run's 3.13 pass; else on $(PYTHON). `make bench ARGS=--quick`.
BENCH_PYTHON ?= $(or $(PYTHON313),$(PYTHON))
BENCH_VENV ?= $(if $(PYTHON313),.venv-py313,$(VENV))

# The dev requirements: the deployed configuration's rows run moto's server (bench/aws.py).
bench:
	$(MAKE) --no-print-directory $(BENCH_VENV)/bin/.dev-deps PYTHON=$(BENCH_PYTHON) VENV=$(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) .venv-py313 bench/results .pytest_cache .ruff_cache .hypothesis .aws-sam
