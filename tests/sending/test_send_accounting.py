"""The send's accounting on every path: each recipient in one bucket, each batch in one, reasons given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_isendpro.client import ClientConfig, IsendproClient
from airflow_provider_isendpro.record_store import LocalRecordStore
from airflow_provider_isendpro.sending.engine import SendOptions
from airflow_provider_isendpro.sending.ledger import Ledger
from airflow_provider_isendpro.sending.plan import MessageRules, Planner
from airflow_provider_isendpro.sending.service import SendPolicy, run_send
from airflow_provider_isendpro.sending.sources import value_source
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.conftest import FAKE_KEY

MOBILES = [f"06{n:08d}" for n in range(12_345_600, 12_345_605)]


def _send(emulator: IsendproEmulator, ledger: Path, key: str = FAKE_KEY, **policy: Any) -> Any:
    return run_send(
        client=lambda: IsendproClient(ClientConfig(api_key=key, base_url=emulator.base_url)),
        planner=Planner(lambda _fields: "Hi", personalised=False, rules=MessageRules(), scope="dag\x1frun"),
        source=value_source(MOBILES, "number"),
        options=SendOptions(batch_size=2),
        policy=SendPolicy(**policy),
        ledger=lambda: Ledger(LocalRecordStore(ledger)),
        details_path=None,
    )


def test_an_authentication_failure_reports_everyone_not_sent_with_the_reason(
    isendpro_emulator: IsendproEmulator, tmp_path: Path
) -> None:
    outcome = _send(isendpro_emulator, tmp_path, key="obviously-wrong-fake-key")
    result = outcome.result
    assert type(outcome.error).__name__ == "IsendproAuthError"
    assert isendpro_emulator.sent == []
    assert result["counts"]["not_sent"] == 5 and sum(result["counts"].values()) == result["input"] == 5
    assert result["batches"] == {"sent": 0, "from_ledger": 0, "unknown": 0, "not_sent": 3}
    reasons = [r["reason"] for r in result["recipients"]]
    assert reasons[:2] == [f"not sent: {outcome.error.message}"] * 2  # the batch iSendPro refused
    assert reasons[2:] == [f"not sent: the send stopped at an error ({outcome.error.message})"] * 3
    assert result["error"] == {"type": "IsendproAuthError", "message": outcome.error.message}


def test_a_refused_batch_is_voided_so_the_retry_sends_it(
    isendpro_emulator: IsendproEmulator, tmp_path: Path
) -> None:
    isendpro_emulator.inject("http_400", path="/smsmulti", after=1)  # batch 2 refused whole
    first = _send(isendpro_emulator, tmp_path)
    assert first.result["batches"] == {"sent": 1, "from_ledger": 0, "unknown": 0, "not_sent": 2}
    second = _send(isendpro_emulator, tmp_path)
    assert second.error is None
    assert second.result["batches"] == {"sent": 2, "from_ledger": 1, "unknown": 0, "not_sent": 0}
    tels = [s.tel for s in isendpro_emulator.sent]
    assert sorted(tels) == MOBILES and len(set(tels)) == 5
