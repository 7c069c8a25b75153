"""Delivery receipts: send, then wait (in the triggerer) until every SMS is delivered, failed or expired.

The pipeline::

    recipients -> send_notice -> wait_for_receipts -> follow_up

* ``SendSmsOperator`` gives every SMS a tracker; its XCom lists them.
* iSendPro calls the delivery-receipt URL of the customer area once each SMS reaches a final state. The
  provider's receiver on the Airflow API server takes those calls
  (``https://<api-server>/isendpro/dlr/<secret>``, the secret being ``[isendpro] dlr_secret``) and stores
  each receipt where the send ledger lives (``[isendpro] ledger_path``: shared storage when workers,
  triggerer and API server are separate machines).
* ``SmsDeliverySensor(deferrable=True)`` checks once in the worker, then waits in the triggerer, holding no
  worker slot, until every status is final. Its XCom counts the statuses and lists the numbers that
  failed or expired. ``source="auto"`` (the default) reads the stored receipts when a receiver is set up
  (``[isendpro] dlr_secret``), else the ``/campagne`` report, every 15 minutes at most;
  ``source="receipts"`` insists on receipts.
* ``follow_up`` gets the numbers no SMS reached: in real life, call them, e-mail them or try again later.

With the local emulator, ``python -m airflow_provider_isendpro.testing --dlr-url
http://127.0.0.1:8080/isendpro/dlr/<secret>`` plays iSendPro's part (every SMS delivered by default; the
numbers 06 00 00 03 01 and 06 00 00 03 02 come back failed and expired). ``make e2e`` runs this DAG for 200
recipients with a mix of outcomes and checks the counts.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_isendpro.operators.sms import SendSmsOperator
from airflow_provider_isendpro.sensors.delivery import SmsDeliverySensor

with DAG(
    dag_id="isendpro_delivery_receipts",
    description="Send, then wait in the triggerer for the delivery receipts and follow up on failures",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "count": Param(3, type="integer", minimum=1, maximum=10000, description="How many recipients"),
    },
    tags=["isendpro", "example", "receipts"],
) as dag:

    @task
    def recipients(params: dict[str, Any] | None = None) -> list[str]:
        """In real life: a query. Here ``count`` obviously fake numbers from 06 12 40 00 00 on."""
        count = int((params or {})["count"])
        return [f"0612{400000 + n:06d}" for n in range(count)]

    send_notice = SendSmsOperator(
        task_id="send_notice",
        recipients=recipients(),
        text="Votre commande est en route. Suivi : 01 23 45 67 89",
    )

    wait_for_receipts = SmsDeliverySensor(
        task_id="wait_for_receipts",
        trackers=send_notice.output,
        source="auto",  # receipts when [isendpro] dlr_secret is set, else the /campagne report
        deferrable=True,
        poll_interval=5,  # seconds between two reads of the stored receipts, in the triggerer
        timeout=2 * 3600,  # give up (task fails, its XCom says what was seen) after 2 hours
    )

    @task
    def follow_up(summary: dict[str, Any]) -> dict[str, list[str]]:
        """The numbers no SMS reached, by reason."""
        return {"failed": summary["failed"], "expired": summary["expired"]}

    follow_up(wait_for_receipts.output)
