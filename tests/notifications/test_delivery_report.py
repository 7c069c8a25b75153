"""The alert closes the loop: the notifier journals each alert's trackers, the digest reports which
alerts were delivered, failed or got no receipt (receipts written through ``ReceiptStore.record``, as the
receiver does), and escalates the undelivered ones exactly once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.errors import IsendproError, IsendproValidationError
from airflow_provider_isendpro.notifications import journal
from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.operators.alert_digest import IsendproAlertDigestOperator
from airflow_provider_isendpro.receipts.model import DeliveryReceipt
from airflow_provider_isendpro.receipts.store import ReceiptStore
from airflow_provider_isendpro.testing import MAGIC_BLACKLISTED, IsendproEmulator
from tests.notifications.conftest import task_context

ONCALL = "06 12 34 56 78"
SECOND = "06 98 76 54 32"
T0 = dt.datetime(2026, 12, 7, 3, 2, tzinfo=dt.timezone.utc).timestamp()
SENT_AT = "2026-12-07T03:02:00Z"


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = T0
        monkeypatch.setattr(journal, "_now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture(autouse=True)
def _receiver_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__DLR_SECRET", "FAKE-dlr-secret-0123456789")


@pytest.fixture
def emu(isendpro_emulator: IsendproEmulator) -> Iterator[IsendproEmulator]:
    yield isendpro_emulator


def alert(task_id: str, to: str = ONCALL) -> None:
    IsendproNotifier(to=to, text="{{ ti.task_id }} failed", throttle=None)(
        task_context(None, task_id=task_id)
    )


def receipt(emu: IsendproEmulator, text: str, status: str, raw: str) -> None:
    """What the receiver stores when iSendPro calls back for the SMS whose text is ``text``."""
    [sms] = [s for s in emu.sent if s.text == text]
    assert sms.tracker is not None
    stored = ReceiptStore.configured().record(
        DeliveryReceipt(sms.tracker, sms.tel, status, raw, "2026-12-07T03:03:00Z")
    )
    assert stored


def digest(**options: Any) -> IsendproAlertDigestOperator:
    return IsendproAlertDigestOperator(task_id="digest", to=ONCALL, scope_dag_id="etl_sales", **options)


def row(task_id: str, status: str, escalated: bool = False) -> dict[str, Any]:
    return {"alert": f"etl_sales.{task_id}", "sent_at": SENT_AT, "to": ["06****5678"], "status": status,
            "escalated": escalated}  # fmt: skip


@pytest.fixture
def three_alerts(emu: IsendproEmulator, clock: Clock) -> None:
    """a delivered, b failed (statut 1), c without a receipt (d only pending)."""
    for task_id in ("a", "b", "c", "d"):
        alert(task_id)
    receipt(emu, "a failed", "delivered", "0")
    receipt(emu, "b failed", "failed", "1")
    receipt(emu, "d failed", "pending", "9")


def test_the_notifier_journals_the_trackers_iSendPro_took(
    emu: IsendproEmulator, clock: Clock, ledger: str
) -> None:
    IsendproNotifier(
        to=f"{ONCALL}, {MAGIC_BLACKLISTED}", text="load failed", ledger_path=ledger, throttle=None
    )(task_context(None))
    [taken] = [s for s in emu.sent if s.tel == "0612345678"]
    from airflow_provider_isendpro.notifications.delivery_report import open_journal

    entries, escalated = journal.sent_alerts(open_journal(ledger, None, "etl_sales"))
    assert [(e.label, e.text, e.trackers, e.recipients, e.sent_at) for e in entries] == [
        ("etl_sales.load", "load failed", (taken.tracker,), ("06****5678",), T0)
    ]
    assert escalated == set()


def test_the_digest_reports_delivered_failed_and_no_receipt(
    emu: IsendproEmulator, three_alerts: None
) -> None:
    result = digest().execute({})
    assert result["deliveries"] == {
        "delivered": 1, "failed": 1, "no_receipt": 2, "escalated": 0,
        "alerts": [row("a", "delivered"), row("b", "failed"), row("c", "no_receipt"), row("d", "no_receipt")],
    }  # fmt: skip
    assert result["texts"] == []  # nothing held back: no digest SMS
    assert len(emu.sent) == 4


def test_undelivered_alerts_are_escalated_once_after_the_delay(
    emu: IsendproEmulator, three_alerts: None, clock: Clock
) -> None:
    operator = digest(escalate_after="15m", escalate_to=SECOND)
    clock.now = T0 + 14 * 60
    assert operator.execute({})["deliveries"]["escalated"] == 0
    clock.now = T0 + 15 * 60
    with structlog.testing.capture_logs() as logs:
        first = operator.execute({})["deliveries"]
    second = operator.execute({})["deliveries"]  # a second digest (or a retry): nothing twice
    assert [(s.tel, s.text) for s in emu.sent[4:]] == [
        ("0698765432", "[not delivered: 06****5678] b failed"),
        ("0698765432", "[no receipt: 06****5678] c failed"),
        ("0698765432", "[no receipt: 06****5678] d failed"),
    ]
    expected = [row("a", "delivered"), row("b", "failed", True), row("c", "no_receipt", True),
                row("d", "no_receipt", True)]  # fmt: skip
    assert first["alerts"] == second["alerts"] == expected
    assert first["escalated"] == second["escalated"] == 3
    assert [e["event"] for e in logs if e["log_level"] == "warning" and "escalated" in e["event"]] == [
        f"iSendPro alert etl_sales.{t} sent at {SENT_AT} to 06****5678: {s} after 900 s; escalated by SMS to "
        "06****5432"
        for t, s in (("b", "failed"), ("c", "no receipt"), ("d", "no receipt"))
    ]


def test_escalation_to_the_fallback(emu: IsendproEmulator, three_alerts: None, clock: Clock) -> None:
    seen: list[dict[str, Any]] = []
    clock.now = T0 + 3600
    digest(escalate_after=dt.timedelta(minutes=30), escalate_fallback=seen.append).execute({"run_id": "r1"})
    assert [(c["run_id"], c["isendpro_alert"]) for c in seen] == [
        ("r1", {"sms_sent": True, "low_credit": None, "text": f"{t} failed",
                "reason": f"alert etl_sales.{t} sent at {SENT_AT} to 06****5678: {what}"})
        for t, what in (("b", "not delivered"), ("c", "no delivery receipt"), ("d", "no delivery receipt"))
    ]  # fmt: skip
    assert len(emu.sent) == 4  # no SMS escalation asked


def test_a_failed_escalation_is_tried_again_by_the_next_digest(emu: IsendproEmulator, clock: Clock) -> None:
    alert("b")
    receipt(emu, "b failed", "failed", "1")
    clock.now = T0 + 3600
    operator = digest(escalate_after="15m", escalate_to=SECOND)
    emu.inject("http_400", "/sms")
    with pytest.raises(IsendproError):
        operator.execute({})
    assert operator.execute({})["deliveries"]["alerts"] == [row("b", "failed", True)]
    assert [s.text for s in emu.sent] == ["b failed", "[not delivered: 06****5678] b failed"]


def test_entries_past_the_horizon_are_dropped(
    emu: IsendproEmulator, three_alerts: None, clock: Clock
) -> None:
    clock.now = T0 + 8 * 86400
    assert digest().execute({})["deliveries"] == {
        "delivered": 0, "failed": 0, "no_receipt": 0, "escalated": 0, "alerts": [],
    }  # fmt: skip


def test_without_a_receiver_nothing_is_reported_nor_escalated(
    emu: IsendproEmulator, three_alerts: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW__ISENDPRO__DLR_SECRET")
    clock.now = T0 + 3600
    with structlog.testing.capture_logs() as logs:
        result = digest(escalate_after="15m", escalate_to=SECOND).execute({})
    assert "deliveries" not in result and len(emu.sent) == 4
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "iSendPro alert digest: escalate_after is set but no delivery receipts are set up ([isendpro] "
        "dlr_secret): nothing is escalated (every alert would look undelivered)"
    ]


@pytest.mark.parametrize(
    "options",
    [{"escalate_after": "15m"}, {"escalate_to": SECOND}, {"escalate_fallback": print},
     {"escalate_after": "soon", "escalate_to": SECOND}],
)  # fmt: skip
def test_half_an_escalation_is_refused_when_the_dag_is_parsed(options: dict[str, Any]) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        digest(**options)
    assert exc.value.field == "escalate_after"


def test_a_deadline_alert_from_the_triggerer_is_journaled_too(emu: IsendproEmulator, clock: Clock) -> None:
    import asyncio

    context = {
        "dag_run": {"dag_id": "etl_sales", "dag_run_id": "manual__1", "logical_date": "2026-01-01T03:00:00Z"},
        "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
    }
    asyncio.run(IsendproNotifier(to=ONCALL, text="late").async_notify(context))
    receipt(emu, "late", "delivered", "0")
    assert digest().execute({})["deliveries"]["alerts"] == [
        {"alert": "DAG etl_sales deadline", "sent_at": SENT_AT, "to": ["06****5678"], "status": "delivered",
         "escalated": False}
    ]  # fmt: skip
