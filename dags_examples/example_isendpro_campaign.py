"""Campaign: qualify a contact list, make sure the credit covers it, send personalised SMS, read the report.

The pipeline, one task each::

    contacts -> qualify_numbers (HLR) -> keep_reachable -> wait_for_credit -> send_reminders
             -> wait_until_next_day -> report_window -> campaign_report

* ``HlrLookupOperator`` asks the operators' registers which numbers exist (billed per number: numbers
  that are malformed or repeated are never looked up). ``output="valid"`` makes its XCom the plain list
  of valid numbers.
* ``CreditSensor`` is the credit guard: it waits (in the triggerer, ``deferrable=True``, holding no
  worker slot) until the account can pay for one SMS per reachable contact.
* ``SendSmsOperator`` personalises the text per row with ``{{ recipient.<column> }}``, sends in batches,
  gives every SMS a deterministic tracker, and records each batch in its send ledger so that a retry
  never texts anyone twice. Its XCom lists every recipient with its tracker.
* The delivery statuses arrive over the following hours; ``CampaignReportOperator`` downloads the
  iSendPro campaign report the next day and matches its rows to the send's trackers.

These are appointment reminders (transactional). For promotional content add ``marketing=True`` to the
send: it refuses (or, with ``quiet_hours="defer"``, postpones) sends at night, on Sundays and on French
public holidays.

The contact list holds obviously fake numbers. Two show what the checks catch: ``06 12 34`` is not a
phone number (reported, never looked up) and ``06 00 00 00 21`` is a number the local emulator answers
as "not assigned" in the HLR step.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, Param, task

from airflow_provider_isendpro.operators.hlr import HlrLookupOperator
from airflow_provider_isendpro.operators.reports import CampaignReportOperator
from airflow_provider_isendpro.operators.sms import SendSmsOperator
from airflow_provider_isendpro.sensors.credit import CreditSensor

# Where the campaign reports go. Use storage every worker reaches in production (s3://bucket/reports).
REPORT_DIR = os.environ.get("ISENDPRO_REPORT_DIR") or str(
    Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser() / "isendpro" / "reports"
)

with DAG(
    dag_id="isendpro_campaign",
    description="HLR-qualified, credit-guarded, personalised SMS campaign with next-day report",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "report_after_hours": Param(24, type="integer", minimum=0, description="Wait before the report"),
        "report_dir": Param(REPORT_DIR, type="string", description="Folder or URL for the report zip"),
    },
    tags=["isendpro", "example", "campaign"],
) as dag:

    @task
    def contacts() -> list[dict[str, str]]:
        """In real life: a query to the CRM. One row per contact; any columns, one holds the number."""
        return [
            {"number": "06 12 34 56 01", "first_name": "Alice", "when": "12/03 à 10h30", "agency": "Lyon"},
            {"number": "06 12 34 56 02", "first_name": "Bruno", "when": "12/03 à 14h00", "agency": "Nantes"},
            {
                "number": "+33 6 12 34 56 03",
                "first_name": "Chloé",
                "when": "13/03 à 09h15",
                "agency": "Lille",
            },
            {"number": "06 00 00 00 21", "first_name": "Didier", "when": "13/03 à 11h00", "agency": "Lille"},
            {"number": "06 12 34", "first_name": "Emma", "when": "14/03 à 16h45", "agency": "Lyon"},
        ]

    rows = contacts()

    # XCom: ["0612345601", "0612345602", "0612345603"] (iSendPro's form of each valid number).
    qualify_numbers = HlrLookupOperator(
        task_id="qualify_numbers", numbers=rows, number_field="number", output="valid"
    )

    @task
    def keep_reachable(rows: list[dict[str, str]], valid_numbers: list[str]) -> list[dict[str, str]]:
        """The contact rows whose number the HLR lookup found valid."""
        from airflow_provider_isendpro.sms import normalise_number

        valid = set(valid_numbers)
        reachable = []
        for row in rows:
            try:
                if normalise_number(row["number"]).wire in valid:
                    reachable.append(row)
            except ValueError:  # malformed numbers were already reported by the HLR step
                continue
        return reachable

    reachable = keep_reachable(rows, qualify_numbers.output)

    # The credit guard: enough credit for one SMS per reachable contact (iSendPro's own estimate).
    wait_for_credit = CreditSensor(
        task_id="wait_for_credit",
        min_sms="{{ ti.xcom_pull(task_ids='keep_reachable') | length }}",
        deferrable=True,
        poke_interval=600,  # check every 10 minutes
        timeout=6 * 3600,  # give up (task fails) after 6 hours without a top-up
    )

    send_reminders = SendSmsOperator(
        task_id="send_reminders",
        recipients=reachable,
        number_field="number",
        text=(
            "Bonjour {{ recipient.first_name }}, rappel de votre RDV le {{ recipient.when }}, "
            "agence {{ recipient.agency }}. Pour annuler : 01 23 45 67 89"
        ),
        sender="AGENCE",  # 4-11 letters/digits; iSendPro appends its STOP mention (counted)
        transliterate=True,  # ’ « ê … become GSM-7 characters instead of failing
        max_segments=1,
        retries=2,  # safe: the send ledger skips recipients already sent
    )

    # Delivery statuses trickle in for hours: read the report the next day. Deferrable: the wait
    # holds no worker slot.
    wait_until_next_day = DateTimeSensorAsync(
        task_id="wait_until_next_day",
        target_time=(
            "{{ (dag_run.start_date + macros.timedelta(hours=params.report_after_hours)).isoformat() }}"
        ),
    )

    @task(multiple_outputs=True)
    def report_window() -> dict[str, str]:
        """From midnight (Paris) the day before until now: it covers the send, however long the wait."""
        now = pendulum.now("Europe/Paris")
        return {"start": now.subtract(days=1).start_of("day").isoformat(), "end": now.isoformat()}

    window = report_window()

    campaign_report = CampaignReportOperator(
        task_id="campaign_report",
        destination="{{ params.report_dir }}/campagne-{{ run_id | replace(':', '-') }}.zip",
        start=window["start"],
        end=window["end"],
        trackers=send_reminders.output,  # XCom: {"statuses": {tracker: statut}, "trackers": {...}}
    )

    wait_for_credit.set_upstream(reachable)
    wait_for_credit >> send_reminders >> wait_until_next_day >> window
