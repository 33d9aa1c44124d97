# ipmasq.agent: developer entry points. On a fresh Debian 12 machine as root: `make demo`, `make test`.
SHELL := /bin/bash
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
export PATH := $(VENV)/bin:$(PATH)
export CONTAINERS_CONF := $(ROOT)/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.cache/collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test test-unit test-integration
setup:
	@bash scripts/setup.sh

# Every test tier. Each tier's target lives in mk/<tier>.mk.
TEST_TIERS := test-unit test-integration
-include mk/*.mk

test: setup
	@bash scripts/run-tests.sh $(TEST_TIERS)

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

test-integration: setup
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests/integration
