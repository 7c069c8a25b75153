# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
PYTHON ?= python3
DEMO_DIR := .demo
export UV_COMPILE_BYTECODE := 1

.PHONY: install test lint typecheck pytest demo clean constraints

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv
	$(UV) pip install -q --compile-bytecode -p $(PY) -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest -p no:cacheprovider \
	  --cov=airflow_provider_isendpro.sms --cov-branch --cov-report=term:skip-covered --cov-fail-under=100

test: lint typecheck pytest

# Runs an example DAG through Airflow (airflow dags test) against the local emulator and shows the SMS
# the emulator received. Everything lives in .demo/ (Airflow home, SQLite DB, emulator log).
demo: install
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	export AIRFLOW_HOME=$$PWD/$(DEMO_DIR)/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False \
	  AIRFLOW__CORE__DAGS_FOLDER=$$PWD/dags_examples AIRFLOW__CORE__UNIT_TEST_MODE=False
	$(PY) -m airflow_provider_isendpro.testing --port 0 --ready-file $(DEMO_DIR)/emulator.url \
	  > $(DEMO_DIR)/emulator.log 2>&1 & EMU=$$!
	trap 'kill $$EMU 2>/dev/null || true' EXIT
	$(PY) -m airflow_provider_isendpro.testing.wait $(DEMO_DIR)/emulator.url 30
	BASE=$$(cat $(DEMO_DIR)/emulator.url)
	export AIRFLOW_CONN_ISENDPRO_DEFAULT="{\"conn_type\": \"isendpro\", \"host\": \"$$BASE\", \"password\": \"emulator-fake-keyid\"}"
	echo "== iSendPro emulator on $$BASE; migrating a throw-away Airflow DB"
	$(VENV)/bin/airflow db migrate > $(DEMO_DIR)/migrate.log 2>&1
	echo "== airflow dags test isendpro_alerting (one task fails on purpose; its on_failure_callback texts on-call)"
	$(VENV)/bin/airflow dags test isendpro_alerting > $(DEMO_DIR)/dag.log 2>&1 || true
	grep -E "Marking run|state=|DagRun Finished" $(DEMO_DIR)/dag.log | tail -n 5 || true
	echo "== SMS received by the emulator:"
	$(PY) -m airflow_provider_isendpro.testing.show $$BASE

constraints:
	$(UV) pip freeze -p $(PY) --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache .coverage
