"""DAGs of ``make e2e-celery`` (e2e/run_celery.py): personalised sends that a worker is killed (or frozen)
under, and an alert on workers without a shared ledger.

Each DAG sends one personalised SMS to each of its fake French mobiles (06 12 40 00 00 on), with
retries, through the ledger configured for the workers (``[isendpro] ledger_path``): nothing here names
a ledger. Sizes are small on purpose: the proof is 0 duplicates and exact accounting, not volume.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.operators.sms import SendSmsOperator


def rows(count: int) -> list[dict[str, str]]:
    return [{"number": f"0612{400000 + n:06d}", "name": f"Client {n}"} for n in range(count)]


def send_dag(dag_id: str, recipients: int, batch_size: int, **options: Any) -> DAG:
    with DAG(
        dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
        tags=["isendpro", "e2e"],
    ) as dag:  # fmt: skip
        SendSmsOperator(
            task_id="send",
            recipients=rows(recipients),
            text="Bonjour {{ recipient.name }}, votre commande est prete.",
            batch_size=batch_size,
            **{"retries": 2, "retry_delay": timedelta(seconds=2), **options},
        )
    return dag


#: A worker lost whole (machine gone): the retry runs on the other worker; in doubt fails by default.
kill = send_dag("isendpro_celery_kill", 60, 5)
#: The same with on_unknown="warn": the task succeeds, the in-doubt batch still reported.
kill_warn = send_dag("isendpro_celery_kill_warn", 60, 5, on_unknown="warn")
#: The worker lost but its task process still running: the retry must fence it off.
zombie = send_dag("isendpro_celery_zombie", 120, 3)
#: The worker frozen whole (SIGSTOP) at a chosen step of a batch, resumed once the retry has sent a
#: batch: at the fence check (its claims listing held by e2e/s3_proxy.py), or mid-request.
freeze_check = send_dag("isendpro_celery_freeze_check", 40, 5, retries=1)
freeze_request = send_dag("isendpro_celery_freeze_request", 40, 5, retries=1)
#: No [isendpro] ledger_path under CeleryExecutor: refused before any SMS.
local_ledger = send_dag("isendpro_celery_local_ledger", 60, 5, retries=0)


#: No [isendpro] ledger_path under CeleryExecutor: the alert still goes out, one SMS per failed try (on
#: retry, then on the final failure), with an ERROR line naming the setting. ``throttle=None``: each try
#: may run on either worker, and a throttle kept on one machine's disk would hold the second alert back on
#: that machine but not on the other (the per-machine limit the ERROR line warns about).
page_on_call = IsendproNotifier(to="06 12 34 56 91", include_link=False, throttle=None)
with DAG(
    "isendpro_celery_alert", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
    tags=["isendpro", "e2e"],
) as alert_dag:  # fmt: skip

    @task(
        retries=1,
        retry_delay=timedelta(seconds=1),
        on_retry_callback=page_on_call,
        on_failure_callback=page_on_call,
    )
    def load() -> None:
        raise RuntimeError("warehouse unreachable")

    load()
