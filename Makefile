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
MATRIX_DIR := .matrix
export UV_COMPILE_BYTECODE := 1

.PHONY: install test lint typecheck pytest demo clean constraints e2e e2e-celery fuzz matrix support-table

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

# Its JUnit report is the pinned row of `make matrix` (Airflow 3.3, the venv's Python). The exhaustive
# protocol proofs (`-m proof`: minutes of one core, single-threaded like the suite) run beside the suite
# on the second core, and their output is printed when both have ended; either failing fails the target.
pytest: install
	mkdir -p $(MATRIX_DIR)
	$(VENV)/bin/pytest -p no:cacheprovider -q -s -m proof --basetemp=$(MATRIX_DIR)/proofs.tmp \
	  --junitxml=$(MATRIX_DIR)/proofs.xml tests \
	  > $(MATRIX_DIR)/proofs.log 2>&1 & proofs=$$!
	suite=0
	$(VENV)/bin/pytest -p no:cacheprovider -m "not proof" --junitxml=$(MATRIX_DIR)/airflow-3.3-py3.11.xml \
	  --cov=airflow_provider_isendpro.sms --cov-branch --cov-report=term:skip-covered --cov-fail-under=100 \
	  || suite=$$?
	proved=0; wait $$proofs || proved=$$?
	echo "=== exhaustive proofs (pytest -m proof), run beside the suite:"; cat $(MATRIX_DIR)/proofs.log
	test $$suite -eq 0 && test $$proved -eq 0

test: lint typecheck pytest

# Runs the alerting example DAG through Airflow (airflow dags test) against the local emulator, then
# shows the SMS the emulator received. Everything lives in .demo/ (Airflow home, SQLite DB, logs).
demo: install
	$(PY) -m airflow_provider_isendpro.testing.demo --dag isendpro_alerting --expect failed --expect-sms 2 --workdir $(DEMO_DIR)

# Runs it like production: a real Airflow deployment (scheduler, dag-processor, triggerer, API server,
# LocalExecutor) on a throw-away PostgreSQL, all on loopback, triggers every example DAG through the REST
# API against the emulator and checks the results (see e2e/run.py). Installs PostgreSQL with apt-get and
# the PostgreSQL drivers into the venv if missing; leaves nothing running.
e2e: install
	e2e/postgres.sh install
	$(UV) pip install -q --compile-bytecode -p $(PY) -c constraints.txt psycopg2-binary==2.9.13 asyncpg==0.32.0
	$(PY) e2e/run.py

# Exactly once on a distributed deployment (issues 11, 18): CeleryExecutor with two workers (each its own
# AIRFLOW_HOME), Redis (Debian's redis-server, installed with apt-get if missing), moto_server as the S3
# ledger store behind a loopback pass-through (e2e/s3_proxy.py), PostgreSQL as `make e2e`; workers killed
# mid-send, and frozen (SIGSTOP) at the fence check and mid-request, 3 runs each. See e2e/run_celery.py.
# About 10-11 min (609-666 s measured in 3 runs, 284-307 s of it the six frozen-worker runs).
E2E_CELERY_PACKAGES = psycopg2-binary==2.9.13 asyncpg==0.32.0 apache-airflow-providers-celery==3.26.0 \
	apache-airflow-providers-amazon==9.39.0 redis==6.4.0 "moto[server]==5.2.5" s3fs==2026.9.0 \
	boto3==1.43.117 botocore==1.43.117
e2e-celery: install
	e2e/postgres.sh install
	command -v redis-server >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server; } </dev/null
	$(UV) pip install -q --compile-bytecode -p $(PY) -c constraints.txt $(E2E_CELERY_PACKAGES)
	timeout -k 30 960 $(PY) e2e/run_celery.py

# The long bad-input fuzz run (issue 7): 100,000 Hypothesis examples over every operator's validation,
# with the seed of the measured run in docs (docs/reliability.md), two processes. About 8 min. Then the
# delivery-receipt receiver's fuzz (docs/receipts.md): 3,000 requests, under a minute.
fuzz: install
	$(PY) bench/fuzz.py --examples 100000 --seed 7 --jobs 2
	$(PY) bench/fuzz_receipts.py --examples 3000 --seed 7

# The support matrix (.ci/matrix.py, ROWS): a venv per row under .matrix/ from the row's lock. Airflow 3.3:
# the whole suite on Python 3.11 (the pinned row, read from `make pytest`'s report: run `make test` first)
# and on 3.13, smoke tests on 3.12; Airflow 3.2 and 3.1: the core tests (client, hook, operator, sensor,
# trigger, notifier, example DAGs) on 3.11, smoke tests on 3.12 and 3.13. Two rows at a time (2 cores),
# each row's output printed when it ends; prints the table and checks README.md's support table against
# it. Python 3.12/3.13 come from pyenv ($(pyenv root)/versions/3.1x.*) or python3.1x on PATH. 15-18 min.
matrix: install
	$(PY) .ci/matrix.py --jobs 2

# Writes the support table (generated from the matrix rows and the locks) between README.md's markers.
support-table:
	$(PY) .ci/matrix.py --write-readme

# Regenerates every lock from its inputs: constraints/airflow-<minor>.in + pyproject.toml's dependencies
# and `test` extra, resolved for Python >= 3.11 (--universal). constraints.txt is the Airflow 3.3 lock
# (make install, the Python 3.13 row); constraints/airflow-3.1.txt and -3.2.txt serve `make matrix`.
# Pins already in a lock are kept when still allowed: `make constraints UPGRADE=1` moves everything to
# the newest allowed versions. Edit the .in files (or pyproject.toml), never the locks.
LOCK_FOR_3.1 := constraints/airflow-3.1.txt
LOCK_FOR_3.2 := constraints/airflow-3.2.txt
LOCK_FOR_3.3 := constraints.txt
constraints: install
	for minor in 3.1 3.2 3.3; do
	  case $$minor in 3.1) out=$(LOCK_FOR_3.1);; 3.2) out=$(LOCK_FOR_3.2);; 3.3) out=$(LOCK_FOR_3.3);; esac
	  $(UV) pip compile -q $(if $(UPGRADE),--upgrade) --python-version 3.11 --universal \
	    --custom-compile-command "make constraints" \
	    pyproject.toml --extra test constraints/airflow-$$minor.in -o $$out
	  echo "$$out: apache-airflow $$(grep -oP '^apache-airflow==\K\S+' $$out)"
	done

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(MATRIX_DIR) .pytest_cache .mypy_cache .ruff_cache .coverage
