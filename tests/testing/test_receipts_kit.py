"""The kit's delivery-receipt loop (issue 22, item 4): the emulator posts receipts to the provider's own
receiver on loopback (``isendpro_receipts_receiver``), which stores them where the run's ledger is, and
``SmsDeliverySensor(source="receipts")`` reads them under ``dag.test()``."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from airflow_provider_isendpro.testing import MAGIC_DLR_FAILED, IsendproEmulator, ReceiptsReceiver
from airflow_provider_isendpro.testing.dagtest import DagTestKit

EXAMPLE = Path(__file__).resolve().parents[2] / "dags_examples" / "example_isendpro_delivery_receipts.py"


def test_the_receiver_stores_what_the_emulator_posts(
    isendpro_emulator: IsendproEmulator,
    isendpro_receipts_receiver: ReceiptsReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_isendpro.receipts.store import ReceiptStore

    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", str(tmp_path / "ledger"))
    body = {
        "keyid": isendpro_emulator.api_key,
        "num": ["0612345678", MAGIC_DLR_FAILED],
        "sms": "Bonjour",
        "tracker": ["T1", "T2"],
    }
    assert requests.post(f"{isendpro_emulator.base_url}/smsmulti", json=body, timeout=5).status_code == 200
    assert isendpro_emulator.wait_dlr(2)

    calls = sorted(isendpro_emulator.dlr_calls, key=lambda c: c.tel)
    assert [(c.tel, c.status, c.response) for c in calls] == [
        (MAGIC_DLR_FAILED, 200, "stored\n"),
        ("0612345678", 200, "stored\n"),
    ]
    assert calls[0].url == f"{isendpro_receipts_receiver.dlr_url}?tel={MAGIC_DLR_FAILED}&statut=1&tracker=T2"
    stored = ReceiptStore.configured().receipts_for(["T1", "T2", "T3"])
    assert {t: (r.number, r.status, r.raw_status) for t, r in stored.items()} == {
        "T1": ("0612345678", "delivered", "0"),
        "T2": (MAGIC_DLR_FAILED, "failed", "1"),
    }


@pytest.mark.integration
def test_the_example_dag_waits_for_its_receipts(
    isendpro_dag_test: DagTestKit, isendpro_receipts_receiver: ReceiptsReceiver
) -> None:
    emulator = isendpro_dag_test.emulator
    emulator.configure(dlr_number_statuses={"0612400001": "1", "0612400002": "2"})

    result = isendpro_dag_test.run(str(EXAMPLE))

    assert result.task_states == {
        "recipients": "success",
        "send_notice": "success",
        "wait_for_receipts": "success",
        "follow_up": "success",
    }
    summary = result.xcoms["wait_for_receipts"]
    assert (summary["source"], summary["total"], summary["condition_met"]) == ("receipts", 3, True)
    assert summary["counts"] == {"delivered": 1, "failed": 1, "expired": 1, "unknown": 0, "pending": 0}
    assert result.xcoms["follow_up"] == {"failed": ["0612400001"], "expired": ["0612400002"]}
    assert emulator.dlr_summary()["posted"] == {"0": 1, "1": 1, "2": 1}


@pytest.mark.integration
def test_without_a_receiver_the_example_reads_the_report(isendpro_dag_test: DagTestKit) -> None:
    isendpro_dag_test.emulator.configure(dlr_number_statuses={"0612400000": "2"})

    result = isendpro_dag_test.run(str(EXAMPLE))

    assert result.state == "success"
    summary = result.xcoms["wait_for_receipts"]
    assert (summary["source"], summary["expired"], summary["delivered"]) == ("report", ["0612400000"], 2)
    assert [r.path for r in result.requests] == ["/smsmulti", "/campagne"]
