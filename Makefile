# The front door. Every target installs what it needs on a fresh machine (Python 3.11+, Node 20, npm).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help demo demo-live test unit integration infra e2e content local synth deploy lint bench layers clean spamassassin chromium browser

help:
	@echo "make demo   - tell the closed-loop story on the local runtime (no AWS account needed)"
	@echo "make demo-live - the same story, then keep its runtime on http://127.0.0.1:8080 to click the outbox's links"
	@echo "make test   - lint, unit, integration, content, infra and e2e tests"
	@echo "make local  - run the local runtime on http://127.0.0.1:8080"
	@echo "make bench  - cold-start, warm-path, request-count and index-efficiency figures"
	@echo "make synth  - synthesize the CDK app (cdk-nag runs here)"
	@echo "make deploy - cdk deploy into the current AWS account"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# The content check scores the shipped mails with SpamAssassin's local rules: Debian's package, installed once.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
spamassassin:
	@command -v spamassassin >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "make test needs spamassassin (apt-get install spamassassin)"; exit 1; }; \
	  echo "installing spamassassin (Debian package, for the content check) ..."; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq spamassassin >/dev/null; }

# The browser tests (tests/browser) drive Debian's chromium with the playwright package: no browser download.
chromium:
	@command -v chromium >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "make test needs chromium (apt-get install chromium)"; exit 1; }; \
	  echo "installing chromium (Debian package, for the browser tests) ..."; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(VENV)/bin/closedloop demo

# The demo's runtime stays up afterwards (until Ctrl-C), so the links in outbox/index.html answer.
demo-live: $(STAMP)
	$(VENV)/bin/closedloop demo --keep-running

local: $(STAMP)
	$(VENV)/bin/closedloop local --port 8080

test: $(STAMP) node_modules/.installed spamassassin chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest tests

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

infra: $(STAMP) node_modules/.installed
	$(PY) -m pytest tests/infra

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

browser: $(STAMP) chromium
	$(PY) -m pytest tests/browser

content: $(STAMP) spamassassin
	$(PY) -m pytest tests/content

bench: $(STAMP)
	$(PY) -m bench

layers: $(STAMP)
	$(PY) -m infra.layers

synth: $(STAMP) node_modules/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet

deploy: $(STAMP) node_modules/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk deploy

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest tests/infra -k cfn_lint

clean:
	rm -rf $(VENV) node_modules cdk.out .build
