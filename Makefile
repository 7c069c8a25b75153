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

.PHONY: install test lint typecheck pytest demo clean constraints e2e e2e-celery fuzz

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

# Runs the alerting example DAG through Airflow (airflow dags test) against the local emulator, then
# shows the SMS the emulator received. Everything lives in .demo/ (Airflow home, SQLite DB, logs).
demo: install
	$(PY) -m airflow_provider_isendpro.testing.demo --dag isendpro_alerting --expect failed --workdir $(DEMO_DIR)

# Runs it like production: a real Airflow deployment (scheduler, dag-processor, triggerer, API server,
# LocalExecutor) on a throw-away PostgreSQL, all on loopback, triggers every example DAG through the REST
# API against the emulator and checks the results (see e2e/run.py). Installs PostgreSQL with apt-get and
# the PostgreSQL drivers into the venv if missing; leaves nothing running.
e2e: install
	e2e/postgres.sh install
	$(UV) pip install -q --compile-bytecode -p $(PY) -c constraints.txt psycopg2-binary==2.9.13 asyncpg==0.32.0
	$(PY) e2e/run.py

# Exactly once on a distributed deployment (issue 11): CeleryExecutor with two workers (each its own
# AIRFLOW_HOME), Redis (Debian's redis-server, installed with apt-get if missing), moto_server as the S3
# ledger store, PostgreSQL as `make e2e`; workers killed mid-send. See e2e/run_celery.py. About 7-8 min.
E2E_CELERY_PACKAGES = psycopg2-binary==2.9.13 asyncpg==0.32.0 apache-airflow-providers-celery==3.26.0 \
	apache-airflow-providers-amazon==9.39.0 redis==6.4.0 "moto[server]==5.2.5" s3fs==2026.9.0 \
	boto3==1.43.117 botocore==1.43.117
e2e-celery: install
	e2e/postgres.sh install
	command -v redis-server >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server; } </dev/null
	$(UV) pip install -q --compile-bytecode -p $(PY) -c constraints.txt $(E2E_CELERY_PACKAGES)
	timeout -k 30 660 $(PY) e2e/run_celery.py

# The long bad-input fuzz run (issue 7): 100,000 Hypothesis examples over every operator's validation,
# with the seed of the measured run in docs (docs/reliability.md). About 9-10 min.
fuzz: install
	$(PY) bench/fuzz.py --examples 100000 --seed 7

constraints:
	$(UV) pip freeze -p $(PY) --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache .coverage
