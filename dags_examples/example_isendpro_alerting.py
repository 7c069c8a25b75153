"""Pipeline alerting: text the on-call phone when an ETL task fails, and the team lead when the run fails.

What this example shows
-----------------------
* ``IsendproNotifier`` as a **task-level** ``on_failure_callback`` (set once for every task through
  ``default_args``): when a task fails, the on-call person gets one short SMS such as::

      [Airflow] isendpro_alerting.load failed (try 1/1) at 2026-01-01 03:00 UTC: ValueError: warehouse
      rejected the batch: duplicate key "sales_pkey" (id=42)

  The default text is built from the callback context, kept to one SMS (160 GSM-7 characters) and
  shortened at a word boundary when the error message is long.
* The same notifier as a **DAG-level** ``on_failure_callback`` with a Jinja-templated text, for a
  second person who only needs to know that the run failed.
* ``only_on_final_failure=True``: with ``retries`` set, nobody is woken up for a try that Airflow is
  going to retry anyway.

The ``load`` task fails on purpose so that ``make demo`` (``airflow dags test isendpro_alerting``) shows
the alerts the local iSendPro emulator received. Nothing here talks to iSendPro when the file is parsed:
the notifier only reads its connection when a callback fires.

Before using it for real
------------------------
* Create the ``isendpro_default`` connection (type *iSendPro SMS*, API key in the password field).
* Replace the fake numbers below, or better, keep them out of the code:
  ``IsendproNotifier(to="{{ var.value.oncall_phone }}")`` reads an Airflow Variable when the alert fires.
* The alert is a transactional SMS: ask iSendPro to lift the STOP mention and the 20:00-08:00 restriction
  for your account, or 3 a.m. alerts may be held or cut.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_isendpro.notifications.sms import IsendproNotifier

# Obviously fake French mobile numbers (the 06 12 34 56 xx range is for examples); use your own.
ON_CALL = "06 12 34 56 78"
TEAM_LEAD = "06 12 34 56 79"

# Task level: one SMS per failed task, to the on-call phone. The default text says which DAG and task
# failed, which try, when (the run's logical date) and why (the exception), plus the log link when it
# fits. Created once here; Airflow calls it with each failing task's context.
page_on_call = IsendproNotifier(
    to=ON_CALL,
    only_on_final_failure=True,  # skip tries that Airflow will retry
    isendpro_conn_id="isendpro_default",
)

# DAG level: one SMS when the run as a whole fails. The text is a Jinja template rendered with the
# callback context: ``dag``, ``run_id``, ``reason`` (``task_failure``, ``timed_out``...) and, for task
# callbacks, ``ti``, ``exception`` and ``exception_summary``.
tell_team_lead = IsendproNotifier(
    to=TEAM_LEAD,
    text="ETL {{ dag.dag_id }} failed ({{ reason }}). Runbook: wiki.example.com/etl",
)

with DAG(
    dag_id="isendpro_alerting",
    description="ETL with SMS alerts on failure (the load task fails on purpose)",
    schedule=None,  # in production: e.g. "0 3 * * *"
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={
        "on_failure_callback": page_on_call,
        # With retries (say 2, retry_delay 5 minutes), page_on_call stays silent until the last try fails.
        "retries": 0,
    },
    on_failure_callback=tell_team_lead,
    tags=["isendpro", "example", "alerting"],
) as dag:

    @task
    def extract() -> list[dict[str, object]]:
        """Pretend to read yesterday's sales from a source system."""
        return [{"id": 41, "amount": 19.9}, {"id": 42, "amount": 5.0}, {"id": 42, "amount": 7.5}]

    @task
    def transform(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{**row, "amount_cents": round(float(str(row["amount"])) * 100)} for row in rows]

    @task
    def load(rows: list[dict[str, object]]) -> None:
        """Fails on purpose: the 'warehouse' refuses the duplicate id 42."""
        seen: set[object] = set()
        for row in rows:
            if row["id"] in seen:
                raise ValueError(f'warehouse rejected the batch: duplicate key "sales_pkey" (id={row["id"]})')
            seen.add(row["id"])

    load(transform(extract()))
