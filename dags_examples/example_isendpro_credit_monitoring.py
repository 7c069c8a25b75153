"""Credit monitoring: text the on-call number when the iSendPro credit falls below a threshold.

What this example shows
-----------------------
* Reading the account credit with ``IsendproHook`` (``/credit`` is free and read-only).
* A ``@task.short_circuit`` that stops the run when the credit is fine, so nothing is sent.
* ``SendSmsOperator`` sending a one-SMS alert whose text is rendered from the first task's XCom.

Run it every hour in production (``schedule="@hourly"``); it stays silent while the credit is above
``min_credit``. While the credit stays low it texts once per run: pick a schedule you can live with, or
raise the threshold so that the first alert leaves time to top up.

Try it with the emulator (100 EUR of credit by default) and a threshold above that, e.g. trigger with
``{"min_credit": 500}``: the alert goes out. With the default threshold (50 EUR) nothing is sent.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_isendpro.operators.sms import SendSmsOperator

with DAG(
    dag_id="isendpro_credit_monitoring",
    description="Text the on-call number when the iSendPro credit is low",
    schedule=None,  # in production: "@hourly"
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "min_credit": Param(50.0, type="number", minimum=0, description="Alert below this credit (EUR)"),
        # An obviously fake French mobile; use yours, or "{{ var.value.oncall_phone }}".
        "on_call": Param("06 12 34 56 78", type="string", description="Who gets the alert"),
    },
    tags=["isendpro", "example", "monitoring"],
) as dag:

    @task
    def read_credit() -> dict[str, Any]:
        """The credit in euros and iSendPro's estimate of how many SMS to France it buys."""
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        hook = IsendproHook(isendpro_conn_id="isendpro_default")
        try:
            # XCom: {"euros": 42.5, "sms_estimate": 850} (sms_estimate may be None)
            return hook.client.get_credit(with_sms_estimate=True).to_dict()
        finally:
            hook.close()

    @task.short_circuit
    def credit_is_low(credit: dict[str, Any], params: dict[str, Any] | None = None) -> bool:
        """True lets the alert run; False skips it (and everything after it)."""
        threshold = float((params or {})["min_credit"])
        print(f"credit {credit['euros']:.2f} EUR, threshold {threshold:.2f} EUR")
        return float(credit["euros"]) < threshold

    credit = read_credit()

    alert_on_call = SendSmsOperator(
        task_id="alert_on_call",
        recipients="{{ params.on_call }}",
        # Rendered when the task runs; `ti.xcom_pull` reads what read_credit returned.
        text=(
            "iSendPro credit low: {{ '%.2f' | format(ti.xcom_pull(task_ids='read_credit')['euros']) }} EUR "
            "left (alert below {{ '%.2f' | format(params.min_credit | float) }} EUR). Top up at "
            "isendpro.com before sends fail."
        ),
        max_segments=1,  # refuse anything longer than one SMS
        retries=0,  # a send is never repeated blindly; the ledger would skip it anyway
    )

    credit_is_low(credit) >> alert_on_call
