"""Mapped personalised send: one task per group of contacts, each SMS written for its recipient.

What this example shows
-----------------------
* ``SendSmsOperator.partial(text=...).expand(recipients=...)``: dynamic task mapping, one send task per
  group (here per agency), each with its own send ledger, so a retried map index never texts anyone twice
  and the others are untouched.
* ``{{ recipient.<field> }}`` in a mapped task's text is rendered per row, exactly as in a plain task
  (Airflow renders mapped tasks through another path; the operator handles both, on Airflow 3.1-3.3).
* The groups come from an upstream task (XCom); a list of groups written in the DAG file works the same.

Trigger it as it is; in a real DAG the groups would come from a query.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_isendpro.operators.sms import SendSmsOperator

with DAG(
    dag_id="isendpro_mapped_reminders",
    description="Personalised reminders sent by mapped tasks, one per agency",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["isendpro", "example", "mapped"],
) as dag:

    @task
    def contacts_by_agency() -> list[list[dict[str, str]]]:
        """One list of rows per agency (obviously fake French mobiles)."""
        return [
            [
                {"number": "06 12 34 56 21", "name": "Inès", "agency": "Lyon", "slot": "10h30"},
                {"number": "06 12 34 56 22", "name": "Marc", "agency": "Lyon", "slot": "14h00"},
            ],
            [
                {"number": "06 12 34 56 23", "name": "Sofia", "agency": "Nantes", "slot": "09h15"},
            ],
        ]

    SendSmsOperator.partial(
        task_id="send_reminders",
        text=(
            "Bonjour {{ recipient.name }}, RDV demain à {{ recipient.slot }}, agence {{ recipient.agency }}."
        ),
        sender="AGENCE",
    ).expand(recipients=contacts_by_agency())
