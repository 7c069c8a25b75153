"""An alert storm as Airflow runs it: 200 mapped tasks fail under ``dag.test()``, on-call gets two SMS."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.notifications.throttle import index_ranges
from airflow_provider_isendpro.operators.alert_digest import IsendproAlertDigestOperator
from airflow_provider_isendpro.sms import count_segments
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.compat import airflow_version
from tests.dagruns import ended_at
from tests.notifications.conftest import LOGICAL_DATE

pytestmark = pytest.mark.integration

ONCALL = "06 12 34 56 78"
BACKUP = "06 98 76 54 32"


def storm_dag(dag_id: str, ledger: str, width: int) -> Any:
    from airflow.sdk import DAG, task

    notifier = IsendproNotifier(to=[ONCALL, BACKUP], ledger_path=ledger, include_link=False)
    with DAG(
        dag_id, schedule=None, start_date=LOGICAL_DATE, catchup=False, on_failure_callback=notifier
    ) as dag:

        @task(on_failure_callback=notifier)
        def load(part: int) -> None:
            raise ValueError(f"source down (part {part})")

        digest = IsendproAlertDigestOperator(task_id="alert_digest", to=[ONCALL, BACKUP], ledger_path=ledger)
        # A teardown runs whatever happened upstream and does not turn the run green.
        load.expand(part=list(range(width))) >> digest.as_teardown()
    return dag


def test_200_mapped_failures_send_two_sms_per_recipient(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Any
) -> None:
    run = run_dag(storm_dag("storm_200", str(tmp_path / "ledger"), 200))
    assert str(run.state) == "failed"  # the digest (a teardown) does not hide the failure
    states = [str(ti.state) for ti in run.get_task_instances()]
    assert states.count("failed") == 200 and states.count("success") == 1  # the digest ran
    by_number: dict[str, list[str]] = {}
    for sms in isendpro_emulator.sent:
        by_number.setdefault(sms.tel, []).append(sms.text)
    assert set(by_number) == {"0612345678", "0698765432"}
    first_texts = {texts[0] for texts in by_number.values()}
    [first] = first_texts  # both numbers got the same first alert, in one request
    match = re.fullmatch(
        r"\[Airflow\] storm_200\.load\[(\d+)\] failed \(try 1/1\) at (\d{4}-\d\d-\d\d \d\d:\d\d UTC)"
        # Before Airflow 3.3, dag.test() leaves the exception out of the callback context.
        + (r": ValueError: source down \(part \1\)" if airflow_version() >= (3, 3) else ""),
        first,
    )
    assert match, first
    assert match.group(2) == ended_at(run, "load", int(match.group(1)), seen=first)  # when that task failed
    rest = index_ranges(i for i in range(200) if i != int(match.group(1)))
    for texts in by_number.values():
        assert len(texts) == 2
        assert re.fullmatch(
            rf"\[Airflow\] alert digest, DAG storm_200: \(199 held back since \d\d:\d\d: "
            rf"storm_200\.load\[{rest}\]\)",
            texts[1],
        ), texts[1]
        assert count_segments(texts[1])[2] == 1
    # One request per message for both numbers (send_sms_multi), 200 + 1 alerts accounted for.
    assert len(isendpro_emulator.requests_to("/smsmulti")) == 2
