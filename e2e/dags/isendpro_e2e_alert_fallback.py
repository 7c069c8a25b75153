"""DAG of ``make e2e`` (e2e/run.py): an alert that iSendPro cannot take goes out by e-mail.

``load`` fails on each of its two tries; ``IsendproNotifier`` alerts on-call for each (on retry, then on
the final failure). The run drives the emulator's credit to 0, so iSendPro refuses each SMS (code 10,
insufficient credit) and the notifier's fallback, Airflow's SMTP notifier through ``smtp_default``, sends
one e-mail per failed try to the SMTP server the run started on loopback (e2e/smtp_sink.py).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import DAG, task

from airflow_provider_isendpro.notifications.sms import IsendproNotifier

page_on_call = IsendproNotifier(
    to="06 12 34 56 90",
    fallback=SmtpNotifier(
        to="oncall@example.com",
        subject="[Airflow] {{ ti.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }})",
        html_content="<p>{{ ti.dag_id }}.{{ ti.task_id }} try {{ ti.try_number }}: {{ exception }}</p>",
    ),
)

with DAG(
    "isendpro_e2e_alert_fallback",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["isendpro", "e2e"],
):

    @task(
        retries=1,
        retry_delay=timedelta(seconds=1),
        on_retry_callback=page_on_call,
        on_failure_callback=page_on_call,
    )
    def load() -> None:
        raise RuntimeError("warehouse unreachable")

    load()
