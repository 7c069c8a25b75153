"""Every example DAG end to end under ``dag.test()`` against the emulator: what iSendPro received."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest
import structlog

from airflow_provider_isendpro.sms import count_segments
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.compat import failure_alert_tail
from tests.dagruns import ended_at, serialized_versions, task_states, xcom_value

pytestmark = pytest.mark.integration


def test_alerting_texts_on_call_and_team_lead(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any]
) -> None:
    run = run_example("isendpro_alerting")
    assert str(run.state) == "failed"
    assert task_states(run) == {"extract": "success", "transform": "success", "load": "failed"}
    # Task level (worker): the failing task's default alert. DAG level: the templated text. Exactly once each.
    assert [(s.tel, s.text, s.sender) for s in isendpro_emulator.sent] == [
        (
            "0612345678",
            "[Airflow] isendpro_alerting.load failed (try 1/1) at "
            + ended_at(run, "load", seen=isendpro_emulator.sent[0].text)
            + failure_alert_tail(
                'ValueError: warehouse rejected the batch: duplicate key "sales_pkey" (id=42)'
            ),
            None,
        ),
        ("0612345679", "ETL isendpro_alerting failed (task_failure). Runbook: wiki.example.com/etl", None),
    ]
    for sms in isendpro_emulator.sent:
        assert count_segments(sms.text)[0] == "GSM-7"
        assert sms.segments == 1
        assert sms.tracker is not None and sms.tracker.startswith("alert")
    assert [r.body["smslong"] for r in isendpro_emulator.requests] == ["1", "1"]


def test_alerting_with_isendpro_down_keeps_the_failure_and_logs_why(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any], wrong_key_default: str
) -> None:
    with structlog.testing.capture_logs() as logs:
        run = run_example("isendpro_alerting")
    assert str(run.state) == "failed"
    assert task_states(run) == {"extract": "success", "transform": "success", "load": "failed"}
    assert isendpro_emulator.sent == []
    errors = [str(e["event"]) for e in logs if "alert NOT sent" in str(e.get("event"))]
    assert len(errors) == 2  # the task-level and the DAG-level alert
    assert all(
        e.startswith("iSendPro alert NOT sent via connection 'isendpro_default': IsendproAuthError")
        for e in errors
    )
    assert all(wrong_key_default not in str(e) for e in logs)


def test_running_an_example_again_keeps_one_serialized_version(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any]
) -> None:
    # The cause of a flaky SAWarning ("Multiple rows returned with uselist=False for lazily-loaded attribute
    # 'DagRun.serialized_dag'"): the tests wrote a serialisation that differed from the one dag.test()
    # writes, so each run of an example after the first added a version. See tests.compat.bundle_dag_bag.
    for logical_date in ("2026-02-01T03:00:00+00:00", "2026-02-02T03:00:00+00:00"):
        run = run_example("isendpro_credit_monitoring", logical_date=pendulum.parse(logical_date))
        assert task_states(run)["read_credit"] == "success"
        assert serialized_versions("isendpro_credit_monitoring") == 1


def test_credit_monitoring_is_silent_above_the_threshold(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any]
) -> None:
    run = run_example("isendpro_credit_monitoring")
    assert task_states(run) == {
        "read_credit": "success",
        "credit_is_low": "success",
        "alert_on_call": "skipped",
    }
    assert xcom_value(run, "read_credit") == {"euros": 100.0, "sms_estimate": 2000}
    assert isendpro_emulator.sent == []
    assert [r.path for r in isendpro_emulator.requests] == ["/credit"]


def test_credit_monitoring_alerts_below_the_threshold(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any]
) -> None:
    isendpro_emulator.credit = 12.5
    run = run_example("isendpro_credit_monitoring", run_conf={"min_credit": 20})
    assert task_states(run) == {
        "read_credit": "success",
        "credit_is_low": "success",
        "alert_on_call": "success",
    }
    [sms] = isendpro_emulator.sent
    assert sms.tel == "0612345678"
    assert sms.text == (
        "iSendPro credit low: 12.50 EUR left (alert below 20.00 EUR). "
        "Top up at isendpro.com before sends fail."
    )
    assert sms.segments == 1
    assert xcom_value(run, "alert_on_call")["counts"]["sent"] == 1


def test_campaign_end_to_end(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any], tmp_path: Path
) -> None:
    run = run_example("isendpro_campaign", run_conf={"report_after_hours": 0, "report_dir": str(tmp_path)})
    assert task_states(run) == {
        "contacts": "success",
        "qualify_numbers": "success",
        "keep_reachable": "success",
        "wait_for_credit": "success",
        "send_reminders": "success",
        "wait_until_next_day": "success",
        "report_window": "success",
        "campaign_report": "success",
    }
    # HLR: the malformed number is never looked up (nor billed); the others are, in one batch.
    [hlr] = isendpro_emulator.requests_to("/hlr")
    assert hlr.body["num"] == ["0612345601", "0612345602", "0612345603", "0600000021"]
    assert xcom_value(run, "qualify_numbers") == ["0612345601", "0612345602", "0612345603"]
    # The credit guard asked for one SMS per reachable contact and found enough.
    assert xcom_value(run, "wait_for_credit") == {"euros": 100.0, "sms_estimate": 2000}
    # One personalised SMS each, in one /smsmulti request, with the custom sender.
    [send] = isendpro_emulator.requests_to("/smsmulti")
    assert send.body["num"] == ["0612345601", "0612345602", "0612345603"]
    assert [(s.tel, s.text, s.sender) for s in isendpro_emulator.sent] == [
        ("0612345601", "Bonjour Alice, rappel de votre RDV le 12/03 à 10h30, agence Lyon. "
                       "Pour annuler : 01 23 45 67 89", "AGENCE"),
        ("0612345602", "Bonjour Bruno, rappel de votre RDV le 12/03 à 14h00, agence Nantes. "
                       "Pour annuler : 01 23 45 67 89", "AGENCE"),
        ("0612345603", "Bonjour Chloé, rappel de votre RDV le 13/03 à 09h15, agence Lille. "
                       "Pour annuler : 01 23 45 67 89", "AGENCE"),
    ]  # fmt: skip
    trackers = [s.tracker for s in isendpro_emulator.sent]
    assert send.body["tracker"] == trackers and len(set(trackers)) == 3
    result = xcom_value(run, "send_reminders")
    assert result["counts"]["sent"] == 3
    assert [r["tracker"] for r in result["recipients"]] == trackers
    # The next-day report, matched to exactly those trackers.
    report = xcom_value(run, "campaign_report")
    assert report["trackers"] == {"requested": 3, "found": 3, "missing": 0}
    assert set(report["statuses"]) == set(trackers)
    assert report["rows"] == 3
    assert Path(report["path"]).parent == tmp_path and Path(report["path"]).is_file()


def test_scheduled_send_at_a_local_time(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any]
) -> None:
    run = run_example("isendpro_scheduled_send", run_conf={"send_on": "2030-01-15", "local_time": "09:30"})
    assert task_states(run) == {"delivery_time": "success", "schedule_reminder": "success"}
    assert xcom_value(run, "delivery_time") == "2030-01-15T09:30:00+01:00"
    text = "Bonjour, votre technicien passera entre 9h et 12h. Pour décaler : 01 23 45 67 89"
    assert [(s.tel, s.text, s.date_envoi, s.gmt_zone) for s in isendpro_emulator.sent] == [
        ("0612345678", text, "2030-01-15 09:30", "Europe/Brussels"),
        ("0612345679", text, "2030-01-15 09:30", "Europe/Brussels"),
    ]


def test_scheduled_send_in_summer_time(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any]
) -> None:
    run = run_example("isendpro_scheduled_send", run_conf={"send_on": "2030-07-01", "local_time": "18:05"})
    assert xcom_value(run, "delivery_time") == "2030-07-01T18:05:00+02:00"
    assert {(s.date_envoi, s.gmt_zone) for s in isendpro_emulator.sent} == {
        ("2030-07-01 18:05", "Europe/Brussels")
    }


def test_bulk_list_in_mapped_batches_through_the_pool(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any], isendpro_pool: str, tmp_path: Path
) -> None:
    run = run_example(
        "isendpro_bulk_mapped", run_conf={"demo_size": 25, "batch_size": 10, "work_dir": str(tmp_path)}
    )
    assert task_states(run) == {
        "prepare_batches": "success",
        "send_batch[0]": "success",
        "send_batch[1]": "success",
        "send_batch[2]": "success",
        "summarise": "success",
    }
    assert {ti.pool for ti in run.get_task_instances() if ti.task_id == "send_batch"} == {isendpro_pool}
    # One request per batch file (mapped tasks run in any order), every number exactly once.
    expected = [f"06123000{n:02d}" for n in range(25)]
    requests = isendpro_emulator.requests_to("/smsmulti")
    assert sorted(r.body["num"] for r in requests) == [expected[0:10], expected[10:20], expected[20:25]]
    assert sorted(s.tel for s in isendpro_emulator.sent) == expected
    assert len({s.tracker for s in isendpro_emulator.sent}) == 25
    assert {s.text for s in isendpro_emulator.sent} == {
        "Votre colis est arrivé en point relais. Retrait sous 10 jours avec une pièce d'identité."
    }
    totals = xcom_value(run, "summarise")
    assert totals["sent"] == 25 and sum(totals.values()) == 25
    batches = xcom_value(run, "prepare_batches")
    assert [Path(p).name for p in batches] == ["batch-00000.csv", "batch-00001.csv", "batch-00002.csv"]


def test_bulk_example_reads_a_source_file_and_dedupes_across_batches(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any], isendpro_pool: str, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(
        "number,name\n06 12 34 56 78,A\nnot a number,B\n+33 6 12 34 56 78,C\n06 12 34 56 79,D\n"
    )
    run = run_example(
        "isendpro_bulk_mapped",
        run_conf={"source": str(source), "batch_size": 1, "work_dir": str(tmp_path / "work")},
    )
    assert task_states(run) == {
        "prepare_batches": "success",
        "send_batch[0]": "success",
        "send_batch[1]": "success",
        "summarise": "success",
    }
    # The invalid number is left out; the same number written two ways gets one SMS, though the two
    # spellings would have landed in different batch files.
    assert xcom_value(run, "prepare_batches", key="counts") == {
        "input": 4,
        "valid": 2,
        "duplicate": 1,
        "invalid": 1,
    }
    assert sorted(s.tel for s in isendpro_emulator.sent) == ["0612345678", "0612345679"]
    assert xcom_value(run, "summarise")["sent"] == 2


def test_bulk_example_puts_its_batch_files_beside_the_configured_ledger(
    isendpro_emulator: IsendproEmulator,
    run_example: Callable[..., Any],
    isendpro_pool: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No work_dir: the files go where [isendpro] ledger_path points, storage every worker must reach
    anyway (the send refuses a local one under a remote executor), so any worker reads them."""
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(tmp_path / "ledger"))
    run = run_example("isendpro_bulk_mapped", run_conf={"demo_size": 12, "batch_size": 5})
    assert set(task_states(run).values()) == {"success"}
    batches = xcom_value(run, "prepare_batches")
    folder = tmp_path / "ledger" / "_bulk"
    assert [Path(p).parent.parent for p in batches] == [folder] * 3
    assert [Path(p).name for p in batches] == ["batch-00000.csv", "batch-00001.csv", "batch-00002.csv"]
    assert sorted(s.tel for s in isendpro_emulator.sent) == [f"06123000{n:02d}" for n in range(12)]
    assert (tmp_path / "ledger" / "isendpro_bulk_mapped").is_dir()  # the mapped sends' own ledger


def test_mapped_reminders_personalise_each_map_index(
    isendpro_emulator: IsendproEmulator, run_example: Callable[..., Any]
) -> None:
    """Issue 19: a mapped task's {{ recipient.<field> }} text failed ("'recipient' is undefined")."""
    run = run_example("isendpro_mapped_reminders")
    assert task_states(run) == {
        "contacts_by_agency": "success",
        "send_reminders[0]": "success",
        "send_reminders[1]": "success",
    }
    assert sorted((s.tel, s.text, s.sender) for s in isendpro_emulator.sent) == [
        ("0612345621", "Bonjour Inès, RDV demain à 10h30, agence Lyon.", "AGENCE"),
        ("0612345622", "Bonjour Marc, RDV demain à 14h00, agence Lyon.", "AGENCE"),
        ("0612345623", "Bonjour Sofia, RDV demain à 09h15, agence Nantes.", "AGENCE"),
    ]
    assert [xcom_value(run, "send_reminders", map_index=i)["counts"]["sent"] for i in (0, 1)] == [2, 1]
