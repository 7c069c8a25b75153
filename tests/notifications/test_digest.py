"""The alert digest: what the throttle held back, sent on demand, listed exactly once."""

from __future__ import annotations

import pytest

from airflow_provider_isendpro.errors import IsendproConfigError, IsendproError
from airflow_provider_isendpro.notifications.digest import send_alert_digest
from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.operators.alert_digest import IsendproAlertDigestOperator
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.notifications.conftest import Clock, task_context

ONCALL = "06 12 34 56 78"
DIGEST = (
    "[Airflow] alert digest, DAG etl_sales: (3 held back since 03:02: etl_sales.load[1-2], etl_sales.report)"
)


def storm(ledger: str, to: str = ONCALL) -> None:
    notifier = IsendproNotifier(to=to, text="KO", ledger_path=ledger)
    for index in range(3):
        notifier(task_context(None, map_index=index))
    notifier(task_context(None, task_id="report"))


def test_digest_lists_the_held_alerts_once(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    storm(ledger)
    result = send_alert_digest(ONCALL, dag_id="etl_sales", ledger_path=ledger)
    assert result == {"held": {"06****5678": 3}, "sent": ["06****5678"], "texts": [DIGEST]}
    assert [s.text for s in isendpro_emulator.sent] == ["KO", DIGEST]
    assert send_alert_digest(ONCALL, dag_id="etl_sales", ledger_path=ledger) == {
        "held": {"06****5678": 0}, "sent": [], "texts": [],
    }  # fmt: skip
    clock.now += 600  # the next window's first alert lists nothing already listed
    IsendproNotifier(to=ONCALL, text="KO again", ledger_path=ledger)(task_context(None, try_number=2))
    assert isendpro_emulator.sent[-1].text == "KO again"


def test_digest_per_recipient_and_other_scopes(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    storm(ledger, to=f"{ONCALL}, 0698765432")
    result = send_alert_digest([ONCALL, "0698765432"], dag_id="etl_sales", ledger_path=ledger)
    assert result["held"] == {"06****5678": 3, "06****5432": 3}
    assert [(s.tel, s.text) for s in isendpro_emulator.sent[-2:]] == [
        ("0612345678", DIGEST),
        ("0698765432", DIGEST),
    ]
    assert len(isendpro_emulator.requests_to("/smsmulti")) == 2  # the alert and the digest, both numbers each
    assert (
        send_alert_digest(ONCALL, dag_id="etl_sales", throttle_scope="global", ledger_path=ledger)["texts"]
        == []
    )


def test_failed_digest_keeps_the_alerts_for_the_next_one(
    isendpro_emulator: IsendproEmulator, ledger: str, clock: Clock
) -> None:
    storm(ledger)
    isendpro_emulator.inject("http_400", path="/sms")
    with pytest.raises(IsendproError):
        send_alert_digest(ONCALL, dag_id="etl_sales", ledger_path=ledger)
    assert send_alert_digest(ONCALL, dag_id="etl_sales", ledger_path=ledger)["texts"] == [DIGEST]


def test_digest_refuses_a_local_ledger_under_a_remote_executor(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(
        IsendproConfigError, match=r"IsendproAlertDigestOperator refuses to run: .*\[isendpro\] ledger_path"
    ):
        send_alert_digest(ONCALL, dag_id="etl_sales")
    assert isendpro_emulator.requests == []


def test_operator_declaration() -> None:
    op = IsendproAlertDigestOperator(task_id="digest", to=ONCALL)
    assert op.trigger_rule == "all_done"
    assert tuple(op.template_fields) == (
        "to", "throttle_scope", "scope_dag_id", "isendpro_conn_id", "escalate_to",
    )  # fmt: skip
    with pytest.raises(Exception, match="throttle_scope"):
        IsendproAlertDigestOperator(task_id="d2", to=ONCALL, throttle_scope="")


def test_an_invalid_connection_sender_is_left_out_and_the_digest_still_goes(
    isendpro_emulator: IsendproEmulator,
    ledger: str,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    storm(ledger)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json({"sender": "SENDER-NAME-TOO-LONG"})
    )
    result = send_alert_digest(ONCALL, dag_id="etl_sales", ledger_path=ledger, ucs2_overseas=True)
    assert result["texts"] == [DIGEST]
    request = isendpro_emulator.requests_to("/sms")[-1]
    assert (request.body["num"], request.body["sms"]) == ("0612345678", DIGEST)
    assert "emetteur" not in request.body  # sent without the refused sender (and so without a STOP mention)
    assert "the connection's sender 'SENDER-NAME-TOO-LONG' is invalid" in caplog.text
