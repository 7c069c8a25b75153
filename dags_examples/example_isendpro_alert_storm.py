"""Alert storm: fifty mapped loads fail at once, the on-call phone gets two SMS, not fifty.

What this example shows
-----------------------
* ``IsendproNotifier`` throttles per recipient (``throttle="10m"`` by default, per DAG): the first
  failure in a window is texted at once; the next ones inside the window are held back, recorded in the
  ledger and logged at WARNING, never sent. Across workers too: the window is claimed with an atomic
  create in the ledger's storage.
* ``IsendproAlertDigestOperator`` as the DAG's **teardown**: it runs whatever happened upstream, texts
  what was held back (mapped indexes as ranges, counts per task), and, being a teardown, does not turn
  the failed run green. On-call receives::

      [Airflow] isendpro_alert_storm.load[0] failed (try 1/1) at 2026-12-01 05:18 UTC: ValueError:
      source 0 unreachable
      [Airflow] alert digest, DAG isendpro_alert_storm: (49 held back since 05:18:
      isendpro_alert_storm.load[1-49])

  Without the digest, the first alert after the window (the next storm, or any later failure) would
  list them: ``... (+49 more since 05:18: isendpro_alert_storm.load[1-49])``.

Every ``load`` fails on purpose (the ``make e2e`` storm scenario counts the SMS on a real scheduler).

Before using it for real
------------------------
* In a distributed deployment (Celery, Kubernetes), set ``[isendpro] ledger_path`` to storage every
  worker reaches (``s3://...``) so that the throttle is exact across workers (see docs/alerting.md).
* Use the same ``to`` (and ``throttle_scope``) for the notifier and the digest.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.operators.alert_digest import IsendproAlertDigestOperator

# An obviously fake French mobile number (the 06 12 34 56 xx range is for examples); use your own.
ON_CALL = "06 12 34 56 80"

page_on_call = IsendproNotifier(to=ON_CALL, throttle="10m", isendpro_conn_id="isendpro_default")

with DAG(
    dag_id="isendpro_alert_storm",
    description="50 mapped tasks fail at once: one alert, then one digest of the other 49",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["isendpro", "example", "alerting"],
):

    @task(on_failure_callback=page_on_call)
    def load(source: int) -> None:
        raise ValueError(f"source {source} unreachable")

    digest = IsendproAlertDigestOperator(
        task_id="alert_digest", to=ON_CALL, isendpro_conn_id="isendpro_default"
    )
    load.expand(source=list(range(50))) >> digest.as_teardown()
