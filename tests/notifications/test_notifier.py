"""IsendproNotifier called the way Airflow calls it, against the emulator: texts, failures, duplicates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.notifications import marker as marker_module
from airflow_provider_isendpro.notifications.sms import (
    PENDING_GRACE_SECONDS,
    IsendproNotifier,
    describe_event,
    send_isendpro_notification,
)
from airflow_provider_isendpro.sms import count_segments
from airflow_provider_isendpro.testing import MAGIC_BLACKLISTED, IsendproEmulator
from tests.compat import needs_deadline_alerts
from tests.notifications.conftest import RUN_ID, Clock, task_context

HEAD = "[Airflow] etl_sales.load failed (try 1/1) at 2026-01-01 03:00 UTC"
LOG_URL = "http://localhost:8080/dags/etl_sales/runs/x/tasks/load?try_number=1"
ONCALL = "06 12 34 56 78"


def events(logs: list[dict[str, Any]], level: str | None = None) -> list[str]:
    return [e["event"] for e in logs if level is None or e["log_level"] == level]


# --------------------------------------------------------------------------------------------------
# Declaration


def test_declaration() -> None:
    assert send_isendpro_notification is IsendproNotifier
    assert tuple(IsendproNotifier.template_fields) == ("to", "text", "sender", "isendpro_conn_id")
    notifier = IsendproNotifier(to=ONCALL)
    assert (notifier.text, notifier.sender, notifier.max_segments, notifier.isendpro_conn_id) == (
        None,
        None,
        1,
        "isendpro_default",
    )
    assert (notifier.only_on_final_failure, notifier.dedupe, notifier.include_link) == (False, True, True)


@pytest.mark.parametrize("to", ["", [], [1], None])
def test_to_is_checked_at_parse_time(to: Any) -> None:
    from airflow_provider_isendpro.errors import IsendproValidationError

    with pytest.raises(IsendproValidationError) as exc:
        IsendproNotifier(to=to)
    assert exc.value.field == "to"


@pytest.mark.parametrize("value", [0, 7, True, "1"])
def test_max_segments_is_checked_at_parse_time(value: Any) -> None:
    from airflow_provider_isendpro.errors import IsendproValidationError

    with pytest.raises(IsendproValidationError) as exc:
        IsendproNotifier(to=ONCALL, max_segments=value)
    assert exc.value.field == "max_segments"


@needs_deadline_alerts
def test_deadline_alert_accepts_it_as_an_async_callback() -> None:
    import datetime as dt

    from airflow.sdk import DeadlineAlert, DeadlineReference
    from airflow.sdk.definitions.callback import AsyncCallback

    alert = DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=dt.timedelta(minutes=30),
        callback=AsyncCallback(IsendproNotifier, kwargs={"to": ONCALL}),
    )
    assert alert.callback.path == "airflow_provider_isendpro.notifications.sms.IsendproNotifier"


# --------------------------------------------------------------------------------------------------
# Sync, task level (as the worker calls on_failure_callback: notifier(context))


def test_task_failure_alert_text_and_budget(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(ValueError("bad row 42")))
    [sms] = isendpro_emulator.sent
    assert sms.tel == "0612345678"
    assert sms.text == f"{HEAD}: ValueError: bad row 42 {LOG_URL}"
    assert count_segments(sms.text) == ("GSM-7", 159, 1)
    assert sms.segments == 1 and sms.sender is None
    assert sms.tracker is not None and sms.tracker.startswith("alert") and len(sms.tracker) == 31
    [request] = isendpro_emulator.requests_to("/sms")
    assert request.body["smslong"] == "1"
    assert events(logs, "info") == [
        "iSendPro alert sent to 06****5678 via connection 'isendpro_default' (157 characters, 1 SMS segment)"
    ]


def test_templated_fields_render_from_the_context(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch, ledger: str
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_ONCALL", "06 98 76 54 32, 0611223344")
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_OPS", isendpro_emulator.connection_json())
    notifier = IsendproNotifier(
        to="{{ var.value.oncall }}",
        text="{{ ti.dag_id }}/{{ ti.task_id }} try {{ ti.try_number }}: {{ exception_summary }}",
        sender="{{ 'dataops' | upper }}",
        isendpro_conn_id="isendpro_{{ 'ops' }}",
        ledger_path=ledger,
    )
    notifier(task_context(KeyError("customer_id")))
    assert [(s.tel, s.text, s.sender) for s in isendpro_emulator.sent] == [
        ("0698765432", "etl_sales/load try 1: KeyError: 'customer_id'", "DATAOPS"),
        ("0611223344", "etl_sales/load try 1: KeyError: 'customer_id'", "DATAOPS"),
    ]
    [request] = isendpro_emulator.requests
    assert request.path == "/smsmulti"
    assert len(set(request.body["tracker"])) == 2
    # The notifier itself stays a template: the DAG processor reuses one instance for several runs.
    assert notifier.to == "{{ var.value.oncall }}"
    assert notifier.isendpro_conn_id == "isendpro_{{ 'ops' }}"


def test_long_custom_text_is_shortened_to_the_budget_with_the_stop_suffix(
    isendpro_emulator: IsendproEmulator, ledger: str
) -> None:
    notifier = IsendproNotifier(
        to=ONCALL, text="Pipeline down: " + "lorem ipsum " * 30, sender="ACME", ledger_path=ledger
    )
    notifier(task_context(None))
    [sms] = isendpro_emulator.sent
    assert sms.sender == "ACME"
    assert sms.text == "Pipeline down: " + "lorem ipsum " * 10 + "lorem..."
    assert count_segments(sms.text + " " * 12)[1:] == (155, 1)  # the STOP mention still fits
    assert sms.segments == 1


def test_connection_default_sender_and_nostop(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    import os

    os.environ["AIRFLOW_CONN_ISENDPRO_DEFAULT"] = isendpro_emulator.connection_json({"sender": "DATAOPS"})
    notifier = IsendproNotifier(to=ONCALL, text="x" * 200, nostop=True, ledger_path=ledger)
    notifier(task_context(None))
    [sms] = isendpro_emulator.sent
    assert (sms.sender, sms.nostop, sms.text) == ("DATAOPS", True, "x" * 157 + "...")


def test_max_segments_two(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, max_segments=2, ledger_path=ledger)
    notifier(task_context(RuntimeError("y" * 400)))
    [sms] = isendpro_emulator.sent
    assert sms.segments == 2
    assert count_segments(sms.text) == ("GSM-7", 306, 2)
    assert sms.text.endswith("... " + LOG_URL)


def test_french_recipient_gets_gsm_text(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(
        to=ONCALL, text="Échec « {{ ti.task_id }} » – voir l’entrepôt 🚨", ledger_path=ledger
    )
    notifier(task_context(None))
    assert isendpro_emulator.sent[0].text == 'Échec " load " - voir l\'entrepot ?'
    assert isendpro_emulator.sent[0].encoding == "GSM-7"


@pytest.mark.parametrize("transport", ["sync", "async"])
@pytest.mark.parametrize(
    ("ucs2_overseas", "text", "encoding"),
    [
        (False, "Échec « load » – voir l'entrepot", "GSM-7"),
        (True, "Échec « load » – voir l’entrepôt 🚨", "UCS-2"),
    ],
)
def test_overseas_recipient_gets_ucs2_only_when_allowed(
    isendpro_emulator: IsendproEmulator,
    ledger: str,
    ucs2_overseas: bool,
    text: str,
    encoding: str,
    transport: str,
) -> None:
    notifier = IsendproNotifier(
        to="+262 692 12 34 56", text="Échec « {{ ti.task_id }} » – voir l’entrepôt 🚨",
        ucs2_overseas=ucs2_overseas, ledger_path=ledger, throttle=None,
    )  # fmt: skip
    if transport == "sync":
        notifier(task_context(None))
    else:
        asyncio.run(notifier.async_notify(task_context(None)))
    [sms] = isendpro_emulator.sent
    expected = text if ucs2_overseas else 'Échec " load " - voir l\'entrepot ?'
    assert (sms.tel, sms.text, sms.encoding, sms.ucs2) == ("262692123456", expected, encoding, ucs2_overseas)


def test_invalid_numbers_are_skipped_and_reported(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(
        to=["not a number", "06 12 34 56 78", "+33 6 12 34 56 78"], ledger_path=ledger
    )
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(None))
    assert [s.tel for s in isendpro_emulator.sent] == ["0612345678"]  # the duplicate is sent once
    [error] = events(logs, "error")
    assert error.startswith("iSendPro alert: skipping invalid number ")


def test_no_valid_number_sends_nothing(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to="0142", ledger_path=ledger)(task_context(None))
    assert isendpro_emulator.requests == []
    assert events(logs, "error")[-1] == "iSendPro alert NOT sent: no valid phone number in 'to'"


def test_invalid_sender_falls_back_to_none(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, text="x", sender="!!", ledger_path=ledger)(task_context(None))
    assert [(s.text, s.sender) for s in isendpro_emulator.sent] == [("x", None)]
    assert events(logs, "error")[0].startswith("iSendPro alert: sender '!!' is invalid")


def test_rejected_recipient_is_logged(isendpro_emulator: IsendproEmulator, ledger: str, markers: Any) -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=[ONCALL, MAGIC_BLACKLISTED], text="x", ledger_path=ledger)(task_context(None))
    assert [s.tel for s in isendpro_emulator.sent] == ["0612345678"]
    [error] = events(logs, "error")
    assert error.startswith(
        "iSendPro refused the alert for 06****0011 via connection 'isendpro_default': code 11"
    )
    assert [m["state"] for m in markers()] == ["sent"]


# --------------------------------------------------------------------------------------------------
# DAG level (called directly: DAG callbacks run in the DAG processor, not under dag.test())


def test_dag_level_direct_call(isendpro_emulator: IsendproEmulator) -> None:
    from airflow.sdk import DAG

    IsendproNotifier(to=ONCALL, text="{{ dag.dag_id }} failed")({"dag": DAG("d", schedule=None)})
    assert [(s.tel, s.text) for s in isendpro_emulator.sent] == [("0612345678", "d failed")]


def test_dag_level_context_from_the_dag_processor(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    from airflow.sdk import DAG

    context = task_context(None)
    context.update(dag=DAG("etl_sales", schedule=None), reason="task_failure")
    IsendproNotifier(to=ONCALL, ledger_path=ledger)(context)
    # The run link (87 characters) does not fit next to the message: it is left out, the reason stays.
    assert [s.text for s in isendpro_emulator.sent] == [
        "[Airflow] DAG etl_sales failed at 2026-01-01 03:00 UTC: task load failed"
    ]
    context["run_id"] = "manual__1"
    IsendproNotifier(to=ONCALL, ledger_path=ledger, throttle=None)(context)
    assert isendpro_emulator.sent[1].text == (
        "[Airflow] DAG etl_sales failed at 2026-01-01 03:00 UTC: task load failed "
        "http://localhost:8080/dags/etl_sales/runs/manual__1"
    )


# --------------------------------------------------------------------------------------------------
# Async (Deadline Alerts in the triggerer)

DEADLINE_CONTEXT = {
    "dag_run": {"dag_id": "etl_sales", "dag_run_id": "manual__1", "logical_date": "2026-01-01T03:00:00Z"},
    "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
}
DEADLINE_TEXT = (
    "[Airflow] DAG etl_sales missed its deadline at 2026-01-01 03:30 UTC: run manual__1 "
    "http://localhost:8080/dags/etl_sales/runs/manual__1"
)


def test_async_notify_direct(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    asyncio.run(notifier.async_notify(dict(DEADLINE_CONTEXT)))
    assert [(s.tel, s.text) for s in isendpro_emulator.sent] == [("0612345678", DEADLINE_TEXT)]


@needs_deadline_alerts
def test_async_as_the_triggerer_runs_a_deadline_callback(
    isendpro_emulator: IsendproEmulator, ledger: str
) -> None:
    # airflow.triggers.callback.CallbackTrigger: `await IsendproNotifier(**kwargs, context=context)`.
    from airflow.triggers.callback import CallbackTrigger

    trigger = CallbackTrigger(
        callback_path="airflow_provider_isendpro.notifications.sms.IsendproNotifier",
        callback_kwargs={
            "to": ONCALL,
            "text": "{{ dag_run.dag_id }} late (deadline {{ deadline.id }})",
            "ledger_path": ledger,
            "context": dict(DEADLINE_CONTEXT),
        },
    )

    async def run() -> list[Any]:
        return [event.payload async for event in trigger.run()]

    payloads = asyncio.run(run())
    assert [p["state"] for p in payloads] == ["running", "success"]
    assert [s.text for s in isendpro_emulator.sent] == ["etl_sales late (deadline 0199-abc)"]


def test_async_with_the_connection_default_sender_and_several_numbers(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch, ledger: str
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json({"sender": "DATAOPS"})
    )
    notifier = IsendproNotifier(to=[ONCALL, "0698765432"], text="late", ledger_path=ledger)
    asyncio.run(notifier.async_notify(dict(DEADLINE_CONTEXT)))
    assert [(s.tel, s.text, s.sender) for s in isendpro_emulator.sent] == [
        ("0612345678", "late", "DATAOPS"),
        ("0698765432", "late", "DATAOPS"),
    ]


# --------------------------------------------------------------------------------------------------
# A broken iSendPro never raises out of the callback, and says why the alert failed


def assert_logged_failure(logs: list[dict[str, Any]], conn_id: str, fragment: str, secret: str) -> None:
    [error] = [e for e in events(logs, "error") if "alert NOT sent" in e]
    assert error.startswith(f"iSendPro alert NOT sent via connection {conn_id!r}: ")
    assert fragment in error
    assert error.endswith("The task's own state is unaffected; check the connection and iSendPro's status")
    assert all(secret not in json.dumps(e, default=str) for e in logs)


def test_http_500_is_logged_not_raised(
    isendpro_emulator: IsendproEmulator, ledger: str, markers: Any
) -> None:
    isendpro_emulator.inject("http_500", path="/sms")
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, ledger_path=ledger)(task_context(ValueError("boom")))
    assert isendpro_emulator.sent == []
    assert_logged_failure(logs, "isendpro_default", "(http_status=500)", isendpro_emulator.api_key)
    assert [m["state"] for m in markers()] == ["unknown"]  # a 5xx after the request left: outcome unknown


def test_wrong_key_is_logged_not_raised(
    isendpro_emulator: IsendproEmulator, wrong_key: str, ledger: str
) -> None:
    notifier = IsendproNotifier(to=ONCALL, isendpro_conn_id="isendpro_wrong_key", ledger_path=ledger)
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(ValueError("boom")))
    assert isendpro_emulator.sent == []
    assert_logged_failure(logs, "isendpro_wrong_key", "IsendproAuthError", wrong_key)


def test_wrong_key_async_is_logged_not_raised(isendpro_emulator: IsendproEmulator, wrong_key: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, isendpro_conn_id="isendpro_wrong_key", dedupe=False)
    with structlog.testing.capture_logs() as logs:
        asyncio.run(notifier.async_notify(dict(DEADLINE_CONTEXT)))
    assert isendpro_emulator.sent == []
    assert_logged_failure(logs, "isendpro_wrong_key", "IsendproAuthError", wrong_key)


def test_timeout_is_logged_as_unknown_outcome(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch, ledger: str, markers: Any
) -> None:
    conn = isendpro_emulator.connection_json({"read_timeout": 0.2})
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_DEFAULT", conn)
    isendpro_emulator.inject("hang", path="/sms")
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, ledger_path=ledger)(task_context(None))
    assert_logged_failure(logs, "isendpro_default", "IsendproUnknownOutcomeError", isendpro_emulator.api_key)
    assert [m["state"] for m in markers()] == ["unknown"]


def test_missing_connection_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_ISENDPRO_DEFAULT", raising=False)
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, dedupe=False)(task_context(None))
    [error] = [e for e in events(logs, "error") if "alert NOT sent" in e]
    assert error.startswith(
        "iSendPro alert NOT sent via connection 'isendpro_default': IsendproConfigError: "
    )


def test_unexpected_error_is_logged_redacted(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.log import mask_secret

    from airflow_provider_isendpro.client import IsendproClient

    mask_secret("leaky-secret-value-9")

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug with leaky-secret-value-9")

    monkeypatch.setattr(IsendproClient, "send_sms", explode)
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, dedupe=False)(task_context(None))
    assert events(logs, "error") == [
        "iSendPro alert NOT sent via connection 'isendpro_default': unexpected RuntimeError: bug with ***. "
        "The task's own state is unaffected"
    ]


def test_text_template_error_falls_back_to_the_default_text(
    isendpro_emulator: IsendproEmulator, ledger: str
) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="{{ ti.task_id | no_such_filter }}", ledger_path=ledger)
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(ValueError("bad row 42")))
    assert [s.text for s in isendpro_emulator.sent] == [f"{HEAD}: ValueError: bad row 42 {LOG_URL}"]
    assert any(
        e.startswith("iSendPro alert: the text template failed to render") for e in events(logs, "error")
    )


def test_recipient_template_error_aborts_with_a_log(isendpro_emulator: IsendproEmulator) -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to="{{ var.value.no_such_variable }}")(task_context(None))
    assert isendpro_emulator.requests == []
    assert any(
        e.startswith("iSendPro alert NOT sent: template field 'to' failed to render") for e in events(logs)
    )


def test_dag_template_env_failure_uses_a_plain_environment(isendpro_emulator: IsendproEmulator) -> None:
    class BrokenDag:
        dag_id = "d"
        render_template_as_native_obj = False  # a SerializedDAG has it (Airflow 3.1's templater reads it)

        def get_template_env(self, **kwargs: Any) -> Any:
            raise AttributeError("'SerializedDAG' object has no attribute 'get_template_env'")

    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, text="{{ dag.dag_id }} failed")({"dag": BrokenDag()})
    assert [s.text for s in isendpro_emulator.sent] == ["d failed"]
    assert events(logs, "warning")[0].startswith("DAG template environment unavailable")


# --------------------------------------------------------------------------------------------------
# only_on_final_failure


def test_only_on_final_failure(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, only_on_final_failure=True, ledger_path=ledger)
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(ValueError("e"), state="up_for_retry", max_tries=2))
    assert isendpro_emulator.requests == []
    assert events(logs, "info") == [
        "iSendPro alert skipped: etl_sales.load try 1 will be retried (only_on_final_failure=True)"
    ]
    notifier(task_context(ValueError("e"), state="failed", try_number=3, max_tries=2))
    assert [s.text for s in isendpro_emulator.sent] == [
        "[Airflow] etl_sales.load failed (try 3/3) at 2026-01-01 03:00 UTC: ValueError: e " + LOG_URL
    ]


def test_retry_alerts_are_sent_by_default(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    IsendproNotifier(to=ONCALL, include_link=False, ledger_path=ledger)(
        task_context(ValueError("e"), state="up_for_retry", max_tries=2)
    )
    assert [s.text for s in isendpro_emulator.sent] == [
        "[Airflow] etl_sales.load failed, will retry (try 1/3) at 2026-01-01 03:00 UTC: ValueError: e"
    ]


# --------------------------------------------------------------------------------------------------
# De-duplication: at least once, unless a successful send is recorded


def test_a_callback_fired_twice_texts_once(
    isendpro_emulator: IsendproEmulator, ledger: str, markers: Any
) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    context = task_context(ValueError("boom"))
    notifier(context)
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, ledger_path=ledger)(
            task_context(ValueError("boom"))
        )  # e.g. the DAG processor
    assert len(isendpro_emulator.sent) == 1
    assert events(logs, "info") == [
        "iSendPro alert already sent to 06****5678 by an earlier invocation of this callback; "
        "not sending it again"
    ]
    [marker] = markers()
    assert marker["state"] == "sent" and marker["recipients"] == "06****5678"
    assert marker["trackers"] == [isendpro_emulator.sent[0].tracker]
    assert marker["detail"] == "1 of 1 accepted"


def test_marker_lives_beside_the_send_ledger(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    from airflow_provider_isendpro.record_store import open_record_store

    IsendproNotifier(to=ONCALL, ledger_path=ledger)(task_context(None))
    store = open_record_store(f"{ledger}/_notifier", ["etl_sales", RUN_ID])
    assert store.describe().startswith(
        str(Path(ledger) / "_notifier" / "etl_sales" / "scheduled__2026-01-01T03")
    )
    key = describe_event(task_context(None)).dedupe_key(["0612345678"])
    assert key is not None and len(key) == len("0123456789abcdef0123456789abcdef")
    # One claim, created before the send, and one outcome: two records, neither rewritten.
    assert store.names() == {f"{key}.claim.json", f"{key}.sent.json"}
    assert json.loads(store.read(f"{key}.claim.json"))["state"] == "pending"


def test_each_try_alerts_once(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="x", ledger_path=ledger, throttle=None)
    notifier(task_context(None, state="up_for_retry", max_tries=1))  # try 1: on_retry_callback
    notifier(task_context(None, state="failed", max_tries=1))  # try 1 again: failure callback mix-up
    notifier(task_context(None, state="failed", try_number=2, max_tries=1))  # try 2: final failure
    notifier(task_context(None, state="running", try_number=2, max_tries=1))  # try 2 from the DAG processor
    IsendproNotifier(to="0698765432", text="x", ledger_path=ledger, throttle=None)(
        task_context(None, try_number=2)
    )  # other person
    assert [s.tel for s in isendpro_emulator.sent] == ["0612345678", "0612345678", "0698765432"]


def test_a_failed_send_is_retried_by_the_next_invocation(
    isendpro_emulator: IsendproEmulator, ledger: str, markers: Any
) -> None:
    isendpro_emulator.inject("http_400", path="/sms")  # refused whole: certainly not sent
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    notifier(task_context(None))
    assert [m["state"] for m in markers()] == ["failed"]
    notifier(task_context(None))
    assert len(isendpro_emulator.sent) == 1
    assert [m["state"] for m in markers()] == ["sent"]


def write_marker(ledger: str, context: dict[str, Any], state: str, at: float, text: str = "") -> None:
    """Generation 0 of the event's marker as an earlier invocation left it: its claim (``text``, else a
    ``pending`` record written ``at``), and its outcome unless ``state`` is ``pending``."""
    from airflow_provider_isendpro.record_store import open_record_store

    event = describe_event(context)
    key = event.dedupe_key(["0612345678"])
    store = open_record_store(f"{ledger}/_notifier", [event.dag_id, str(event.run_id)])
    store.create(f"{key}.claim.json", text or json.dumps({"state": "pending", "written_at": at}))
    if state != "pending":
        store.create(f"{key}.{state}.json", json.dumps({"state": state, "written_at": at}))


def test_pending_marker_of_an_invocation_in_flight_is_respected(
    isendpro_emulator: IsendproEmulator, ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(marker_module, "_now", lambda: 10_000.0)
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    write_marker(ledger, task_context(None), "pending", 10_000.0 - PENDING_GRACE_SECONDS + 1)
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(None))
    assert isendpro_emulator.requests == []
    assert events(logs, "warning") == [
        "iSendPro alert to 06****5678 is being sent by another invocation of this callback "
        "(started 119 s ago); not sending it twice"
    ]


def test_stale_pending_marker_is_sent_again(
    isendpro_emulator: IsendproEmulator, ledger: str, monkeypatch: pytest.MonkeyPatch, markers: Any
) -> None:
    monkeypatch.setattr(marker_module, "_now", lambda: 10_000.0)
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    write_marker(ledger, task_context(None), "pending", 10_000.0 - PENDING_GRACE_SECONDS)
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(None))
    assert len(isendpro_emulator.sent) == 1
    assert events(logs, "warning") == [
        "iSendPro alert to 06****5678: an earlier invocation stopped while sending it 120 s ago; "
        "sending again (it may arrive twice)"
    ]
    assert [(m["state"], m["written_at"]) for m in markers()] == [("sent", 10_000.0)]


def test_unknown_outcome_is_sent_again(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    write_marker(ledger, task_context(None), "unknown", 0.0)
    notifier(task_context(None))
    assert len(isendpro_emulator.sent) == 1


def test_unreadable_marker_does_not_stop_the_alert(isendpro_emulator: IsendproEmulator, ledger: str) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    write_marker(ledger, task_context(None), "pending", 0.0, text="{not json")  # a claim of unknown age
    with structlog.testing.capture_logs() as logs:
        notifier(task_context(None))
    assert len(isendpro_emulator.sent) == 1
    assert events(logs, "warning")[0].startswith("iSendPro alert: cannot read the de-duplication marker in ")
    assert events(logs, "warning")[0].endswith("(JSONDecodeError); sending anyway")


def test_unreachable_store_never_stops_an_alert(
    isendpro_emulator: IsendproEmulator, tmp_path: Path, clock: Clock
) -> None:
    """Markers and throttle windows cannot be written: every alert is sent or held by this process's
    own throttle (fail open, de-duplicated and throttled in memory), and an ERROR line says why."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    from airflow_provider_isendpro.record_store import open_record_store

    marker_dir = open_record_store(f"{blocker}/_notifier", ["etl_sales", RUN_ID]).describe()
    with structlog.testing.capture_logs() as logs:
        for try_number in (1, 1, 2, 3):  # try 1 fires twice
            IsendproNotifier(to=ONCALL, ledger_path=str(blocker))(task_context(None, try_number=try_number))
        clock.now += 600  # the in-process window is over: the next alert lists the two held back
        IsendproNotifier(to=ONCALL, ledger_path=str(blocker))(task_context(None, try_number=4))
    assert [sms.text for sms in isendpro_emulator.sent] == [
        "[Airflow] etl_sales.load failed (try 1/1) at 2026-01-01 03:00 UTC "
        "http://localhost:8080/dags/etl_sales/runs/x/tasks/load?try_number=1",
        "[Airflow] etl_sales.load failed (try 4/1) at 2026-01-01 03:00 UTC (+2 more since 03:02: "
        "etl_sales.load x2)",
    ]
    assert (
        events(logs, "error")
        == [
            f"iSendPro alert: cannot use its ledger at {marker_dir} (NotADirectoryError: [Errno 20] Not a "
            f"directory: '{marker_dir}'); sending it anyway, with de-duplication and throttling kept in this "
            "process only: a callback repeated in another process may send this alert again. Check that "
            "storage and its credentials ([isendpro] ledger_path, [isendpro] ledger_conn_id)"
        ]
        * 5
    )
    throttle_dir = (
        f"this process's memory (instead of {blocker}/_notifier/_throttle/dag/etl_sales/eb8ee2449ad37fd3)"
    )
    assert events(logs, "warning") == [
        f"iSendPro alert to 06****5678 held back, not sent (throttle 10m, scope 'dag'): [Airflow] "
        f"etl_sales.load failed (try {n}/1) at 2026-01-01 03:00 UTC. Recorded in {throttle_dir}; the first "
        "alert after 03:12 UTC, or the alert digest, will list it"
        for n in (2, 3)
    ]
    assert "iSendPro alert already sent to 06****5678 by an earlier invocation" in events(logs, "info")[1]


def test_dedupe_off(
    isendpro_emulator: IsendproEmulator, ledger: str, markers: Callable[..., list[Any]]
) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="x", dedupe=False, ledger_path=ledger, throttle=None)
    notifier(task_context(None))
    notifier(task_context(None))
    assert len(isendpro_emulator.sent) == 2
    assert markers() == []


def test_async_dedupe(isendpro_emulator: IsendproEmulator, ledger: str, markers: Any) -> None:
    notifier = IsendproNotifier(to=ONCALL, ledger_path=ledger)
    asyncio.run(notifier.async_notify(dict(DEADLINE_CONTEXT)))
    asyncio.run(notifier.async_notify(dict(DEADLINE_CONTEXT)))
    assert len(isendpro_emulator.sent) == 1
    assert [m["state"] for m in markers(run_id="manual__1")] == ["sent"]


def test_async_failure_records_the_marker(
    isendpro_emulator: IsendproEmulator, ledger: str, markers: Any
) -> None:
    isendpro_emulator.inject("http_503", path="/sms")
    asyncio.run(IsendproNotifier(to=ONCALL, ledger_path=ledger).async_notify(dict(DEADLINE_CONTEXT)))
    assert isendpro_emulator.sent == []
    assert [m["state"] for m in markers(run_id="manual__1")] == ["unknown"]


# --------------------------------------------------------------------------------------------------
# Odd calls


def test_package_exports_lazily() -> None:
    import airflow_provider_isendpro.notifications as package

    assert package.IsendproNotifier is IsendproNotifier
    assert package.send_isendpro_notification is IsendproNotifier
    with pytest.raises(AttributeError):
        package.NoSuchNotifier  # noqa: B018


def test_legacy_four_argument_call(isendpro_emulator: IsendproEmulator) -> None:
    from airflow.sdk import DAG

    IsendproNotifier(to=ONCALL, text="{{ dag.dag_id }}: {{ task_list | length }} late")(
        DAG("d", schedule=None), ["a", "b"], [], []
    )
    assert [s.text for s in isendpro_emulator.sent] == ["d: 2 late"]


def test_a_context_that_is_not_a_mapping_is_logged() -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL)(None)
    [error] = events(logs, "error")
    assert error.startswith("iSendPro alert NOT sent via connection 'isendpro_default': unexpected TypeError")


def test_attributes_that_raise_are_treated_as_missing(isendpro_emulator: IsendproEmulator) -> None:
    class Ti:
        dag_id, task_id, run_id, map_index, try_number, max_tries, log_url = "d", "t", "r", -1, 1, 0, "u"

        @property
        def state(self) -> str:
            raise RuntimeError("needs the API server")

    IsendproNotifier(to=ONCALL, dedupe=False, include_link=False)({"ti": Ti(), "run_id": "r"})
    # no end date in the context: the time of the callback (NOW)
    assert [s.text for s in isendpro_emulator.sent] == [
        "[Airflow] d.t failed (try 1/1) at 2026-12-07 14:05 UTC"
    ]


def test_async_skips_and_aborts(isendpro_emulator: IsendproEmulator) -> None:
    retry = task_context(ValueError("e"), state="up_for_retry", max_tries=2)
    asyncio.run(IsendproNotifier(to=ONCALL, only_on_final_failure=True).async_notify(retry))
    with structlog.testing.capture_logs() as logs:
        asyncio.run(IsendproNotifier(to="12").async_notify(retry))
        asyncio.run(IsendproNotifier(to="{{ no_such_thing.x }}").async_notify(retry))
        asyncio.run(IsendproNotifier(to=ONCALL).async_notify(None))  # type: ignore[arg-type]
    assert isendpro_emulator.requests == []
    assert [e for e in events(logs, "error") if "NOT sent" in e][:2] == [
        "iSendPro alert NOT sent: no valid phone number in 'to'",
        "iSendPro alert NOT sent: template field 'to' failed to render (UndefinedError: 'no_such_thing' is "
        "undefined)",
    ]
    assert events(logs, "error")[-1].startswith(
        "iSendPro alert NOT sent via connection 'isendpro_default': unexpected TypeError"
    )


def test_async_explicit_sender_and_missing_connection(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(IsendproNotifier(to=ONCALL, text="x", sender="ACME", dedupe=False).async_notify({}))
    assert [(s.text, s.sender) for s in isendpro_emulator.sent] == [("x", "ACME")]
    monkeypatch.delenv("AIRFLOW_CONN_ISENDPRO_DEFAULT")
    with structlog.testing.capture_logs() as logs:
        asyncio.run(IsendproNotifier(to=ONCALL, text="x", dedupe=False).async_notify({}))
    [error] = events(logs, "error")
    assert error.startswith(
        "iSendPro alert NOT sent via connection 'isendpro_default': IsendproConfigError: "
    )
