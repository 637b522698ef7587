# leadscore: the front door. `make demo` and `make test` do all the set-up from nothing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export AWS_DEFAULT_REGION ?= us-east-1
export PYENV_VERSION ?= 3.13.0
export SAM_CLI_TELEMETRY ?= 0

# Find a Python 3.13: one on PATH, pyenv's 3.13.x, or the pyenv shim.
PYTHON313 := $(shell for c in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then echo $$c; break; fi; done)

.PHONY: venv demo serve test lint typecheck validate checkov build deploy unit integration pytest bench clean chromium

# checkov pins its own boto3: it lives in its own venv so it never downgrades the project's.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30

# Each step says what it is doing: a fresh install is quiet pip work for a minute or two.
$(VENV)/.installed: requirements-dev.txt shared/requirements.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found (install it, e.g. pyenv install 3.13.0)"; exit 1; }
	@echo "==> [1/4] creating $(VENV) with $(PYTHON313)"
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	@echo "==> [2/4] upgrading pip"
	@$(PY) -m pip install -q --upgrade pip
	@echo "==> [3/4] installing dev tools and layer dependencies (SAM CLI, moto, pytest...; 1-2 minutes on a fresh machine)"
	@$(PY) -m pip install -q -r requirements-dev.txt -r shared/requirements.txt
	@echo "==> [4/4] installing leadscore itself (editable) and the leadscore command"
	@$(PY) -m pip install -q --no-deps -e .
	@touch $@
	@echo "==> $(VENV) ready"

venv: $(VENV)/.installed

demo: venv
	@echo "==> starting the local stack (moto server + template.yaml), then replaying events/http-*.json"
	$(PY) -m tools.local demo

serve: venv
	$(PY) -m tools.local serve --port $${PORT:-3000}

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

validate: venv
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/sam validate --lint --template template.yaml

$(CHECKOV_VENV)/.installed:
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found"; exit 1; }
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q checkov==$(CHECKOV_VERSION)
	@touch $@

# Every skip is explained beside the resource in template.yaml (Metadata.checkov.skip).
checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

build: venv
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/sam build --template template.yaml

# The venv's SAM CLI, so nothing needs to be on PATH. samconfig.toml names the stack (leadscore), lets SAM
# make its artifact bucket and shows the change set before applying it. ARGS passes more options, e.g.
# make deploy ARGS="--guided"   or   make deploy ARGS="--parameter-overrides AlertEmail=sales@example.com"
deploy: build
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/sam deploy $(ARGS)

# Headless Chromium renders the review's HTML report in the unit tests (tests/unit/test_review_html.py).
# Debian's package; about 28 s to install on a fresh machine (apt-get update 1.7 s, install 26 s).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (Debian package) for the HTML report test"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Pure tests (no AWS emulator, no subprocess stack): seconds. The HTML report test needs chromium.
unit: venv chromium
	$(VENV)/bin/pytest -q tests/unit

# Handlers on the stack built from template.yaml (moto), the CLI against it, the soak: minutes.
integration: venv
	$(VENV)/bin/pytest -q tests/integration

# Both in one pytest run, spread over the cores: a file's tests stay on one worker (their fixtures
# and moto servers are per process), the soak runs beside the rest. --no-loadscope-reorder keeps
# tests/conftest.py's slowest-first order: by default xdist starts the files with the most tests first,
# which left the soak (one test, minutes) to start last.
pytest: venv chromium
	$(VENV)/bin/pytest -q -n auto --dist loadfile --no-loadscope-reorder

test: lint typecheck validate checkov pytest

# Seeded, about 7 minutes on 2 cores; niced because the machine is shared. Writes bench/results/latest.json.
bench: venv
	nice -n 10 $(PY) -m bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .venv-bench .aws-sam .pytest_cache .mypy_cache .ruff_cache
