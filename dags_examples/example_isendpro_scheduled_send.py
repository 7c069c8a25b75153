"""Scheduled send: hand iSendPro an SMS to deliver at a given local time (e.g. tomorrow 09:00 in Paris).

What this example shows
-----------------------
* ``SendSmsOperator(send_at=...)``: iSendPro holds the message and delivers it at that time; the Airflow
  task finishes as soon as iSendPro has accepted it (nothing waits in Airflow until 09:00).
* ``send_at`` takes an aware datetime or an ISO 8601 string with its UTC offset. The provider converts it
  to French wall time for iSendPro (its time-zone list has no ``Europe/Paris``; ``Europe/Brussels``
  follows the same rules) and refuses naive or past times, so a message is never sent at the wrong hour.
* The time is computed in a task from the run's parameters, not at parse time, and travels by XCom.

Trigger with e.g. ``{"send_on": "2030-01-15", "local_time": "09:30"}``, or leave ``send_on`` empty for
the next ``local_time`` to come.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_isendpro.operators.sms import SendSmsOperator

with DAG(
    dag_id="isendpro_scheduled_send",
    description="Send an SMS at a given local time",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "send_on": Param("", type="string", description="YYYY-MM-DD; empty: the next local_time"),
        "local_time": Param("09:00", type="string", pattern=r"^\d{2}:\d{2}$", description="HH:MM"),
        "timezone": Param("Europe/Paris", type="string", description="Time zone of local_time"),
    },
    tags=["isendpro", "example", "scheduled"],
) as dag:

    @task
    def delivery_time(params: dict[str, Any] | None = None) -> str:
        """The delivery instant as ISO 8601 with its offset, e.g. ``2030-01-15T09:30:00+01:00``."""
        params = params or {}
        zone = pendulum.timezone(params["timezone"])
        hour, minute = (int(part) for part in str(params["local_time"]).split(":"))
        if params.get("send_on"):
            day = pendulum.parse(str(params["send_on"]), tz=zone)
            at = pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=zone)
        else:
            now = pendulum.now(zone)
            at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if at <= now:
                at = at.add(days=1)
        return at.isoformat()

    SendSmsOperator(
        task_id="schedule_reminder",
        # Obviously fake French mobiles; iSendPro's wire form is 0612345678.
        recipients=["06 12 34 56 78", "06 12 34 56 79"],
        text="Bonjour, votre technicien passera entre 9h et 12h. Pour décaler : 01 23 45 67 89",
        send_at=delivery_time(),  # templated field: an XComArg is resolved when the task runs
        max_segments=1,
    )
