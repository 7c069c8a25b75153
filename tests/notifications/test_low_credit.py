"""Low credit before it bites: ``IsendproNotifier(min_credit=...)`` reads the account's credit (bounded,
cached) and, when it is below, ends the alert with a warning fitted to the budget and tells the fallback.

The credit is the emulator's; the fallback is a second ``IsendproNotifier`` on its own connection to a
second emulator, whose templated text shows what a user's SMTP or Slack notifier can say."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications import credit as credit_module
from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.sms import count_segments
from airflow_provider_isendpro.sms.fit import fit_message
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.notifications.conftest import task_context

ONCALL = "06 12 34 56 78"
BACKUP = "06 98 76 54 32"
HEAD = "[Airflow] etl_sales.load failed (try 1/1) at 2026-01-01 03:00 UTC"
LOG_URL = "http://localhost:8080/dags/etl_sales/runs/x/tasks/load?try_number=1"
LOW = "iSendPro credit low: 3.20 EUR left, below min_credit=10.00 EUR"
DEADLINE_CONTEXT = {
    "dag_run": {"dag_id": "etl_sales", "dag_run_id": "manual__1", "logical_date": "2026-01-01T03:00:00Z"},
    "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
}
DEADLINE_HEAD = "[Airflow] DAG etl_sales missed its deadline at 2026-01-01 03:30 UTC: run manual__1"


@pytest.fixture(autouse=True)
def _fresh_credit_cache() -> Iterator[None]:
    credit_module.clear_cache()
    yield
    credit_module.clear_cache()


@pytest.fixture
def emu(isendpro_emulator: IsendproEmulator) -> Iterator[IsendproEmulator]:
    isendpro_emulator.credit = 3.2
    yield isendpro_emulator
    isendpro_emulator.release_hangs()


@pytest.fixture(scope="module")
def backup_gateway() -> Iterator[IsendproEmulator]:
    with IsendproEmulator() as emulator:
        yield emulator


@pytest.fixture
def backup(backup_gateway: IsendproEmulator, monkeypatch: pytest.MonkeyPatch) -> IsendproNotifier:
    """What a user's e-mail or Slack notifier would template: the reason it is called."""
    backup_gateway.reset()
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_BACKUP", backup_gateway.connection_json())
    return IsendproNotifier(
        to=BACKUP,
        text="[backup] {{ ti.task_id }}: {{ isendpro_alert.reason }} "
        "(SMS sent: {{ isendpro_alert.sms_sent }})",
        isendpro_conn_id="isendpro_backup",
    )


def texts(emulator: IsendproEmulator) -> list[str]:
    return [s.text for s in emulator.sent]


def events(logs: list[dict[str, Any]], level: str) -> list[str]:
    return [e["event"] for e in logs if e["log_level"] == level]


# --------------------------------------------------------------------------------------------------
# Below, above


def test_credit_below_ends_the_alert_and_tells_the_fallback(
    emu: IsendproEmulator, backup: IsendproNotifier, backup_gateway: IsendproEmulator
) -> None:
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, min_credit=10, fallback=backup)(task_context(ValueError("bad row 42")))
    # the warning takes the link's place: the link does not fit next to it in one SMS
    assert texts(emu) == [f"{HEAD}: ValueError: bad row 42 Credit low: 3.20 EUR left (min 10.00 EUR)"]
    assert texts(backup_gateway) == [f"[backup] load: {LOW} (SMS sent: True)"]
    assert [e for e in events(logs, "warning") if "credit" in e] == [
        f"iSendPro alert: {LOW} on connection 'isendpro_default'; the alert says so and the fallback (if "
        "any) is told",
        f"iSendPro alert sent by SMS, but {LOW}; telling the fallback IsendproNotifier",
    ]
    assert [r.body["credit"] for r in emu.requests_to("/credit")] == ["1"]


def test_credit_above_changes_nothing(
    emu: IsendproEmulator, backup: IsendproNotifier, backup_gateway: IsendproEmulator
) -> None:
    IsendproNotifier(to=ONCALL, min_credit=3, fallback=backup)(task_context(ValueError("bad row 42")))
    assert texts(emu) == [f"{HEAD}: ValueError: bad row 42 {LOG_URL}"]
    assert texts(backup_gateway) == []


def test_min_sms_uses_isendpros_estimate(emu: IsendproEmulator) -> None:
    IsendproNotifier(to=ONCALL, text="etl_sales.load failed", min_sms=100)(task_context(None))
    [request] = emu.requests_to("/credit")
    assert request.body["credit"] == "2"
    assert texts(emu) == ["etl_sales.load failed Credit low: ~64 SMS left (min 100 SMS)"]


def test_when_the_sms_is_refused_the_fallback_hears_both(emu: IsendproEmulator) -> None:
    emu.credit = 0.0
    seen: list[dict[str, Any]] = []
    context = task_context(None)
    IsendproNotifier(to=ONCALL, text="etl_sales.load failed", min_credit=10, fallback=seen.append)(context)
    assert texts(emu) == []
    [received] = seen
    assert received["isendpro_alert"] == {
        "sms_sent": False,
        "reason": "IsendproCreditRefusedError: sendSms (POST /sms): iSendPro refused the request: code 10, "
        "'Insufficient credit: this request costs 0.05 EUR, the account has 0.0 EUR'; the account's credit "
        "does not cover it: top it up in iSendPro's customer area; iSendPro credit low: 0.00 EUR left, "
        "below min_credit=10.00 EUR",
        "low_credit": "iSendPro credit low: 0.00 EUR left, below min_credit=10.00 EUR",
    }
    assert received["ti"] is context["ti"] and "isendpro_alert" not in context  # Airflow's dict untouched


# --------------------------------------------------------------------------------------------------
# The budget: the warning never pushes the alert over it, nor cuts the headline


def test_a_long_error_is_shortened_for_the_warning(emu: IsendproEmulator) -> None:
    IsendproNotifier(to=ONCALL, min_credit=10)(task_context(ValueError("row " + "x" * 300)))
    [sms] = texts(emu)
    assert sms.startswith(f"{HEAD}: ValueError: row xxx") and sms.endswith(
        "... Credit low: 3.20 EUR left (min 10.00 EUR)"
    )
    assert count_segments(sms)[2] == 1


def test_with_the_stop_mention_the_short_warning_is_used(
    emu: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    IsendproNotifier(to=ONCALL, sender="DATAOPS", min_credit=10)(task_context(ValueError("row " + "x" * 300)))
    [sms] = emu.sent
    assert sms.text.startswith(f"{HEAD}: ValueError: row xxx") and sms.text.endswith(
        "... Credit low: 3.20 EUR"
    )
    assert sms.segments == 1


def test_a_warning_that_would_cut_the_headline_is_left_out(emu: IsendproEmulator) -> None:
    task_id = "load_" + "x" * 60  # a headline of 126 characters: no room for a warning and 40 of the error
    context = task_context(ValueError("bad row 42" * 5), task_id=task_id)
    IsendproNotifier(to=ONCALL, throttle=None)(context)  # the same alert, without any check
    IsendproNotifier(to=ONCALL, min_credit=10, dedupe=False, throttle=None)(context)
    without, with_check = texts(emu)
    assert with_check == without and "Credit low" not in with_check
    assert with_check.startswith(f"[Airflow] etl_sales.{task_id} failed (try 1/1) at 2026-01-01 03:00 UTC")


def test_a_custom_text_keeps_its_first_40_characters(emu: IsendproEmulator) -> None:
    """As for the throttle's summary: a user's text may be shortened down to 40 characters for it."""
    text = "etl_sales.load failed: " + "y" * 140
    IsendproNotifier(to=ONCALL, text=text, min_credit=10)(task_context(None))
    note = " Credit low: 3.20 EUR left (min 10.00 EUR)"
    assert texts(emu) == [fit_message(text, suffix=note)]
    assert texts(emu)[0].startswith("etl_sales.load failed: yyyyyyyyyyyyyyyyyyyyyyyyyy")


# --------------------------------------------------------------------------------------------------
# The read never delays or blocks the alert


def test_a_failing_read_is_logged_and_the_alert_goes(
    emu: IsendproEmulator, backup: IsendproNotifier, backup_gateway: IsendproEmulator
) -> None:
    emu.inject("http_500", "/credit")
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, min_credit=10, fallback=backup)(task_context(ValueError("bad row 42")))
    assert texts(emu) == [f"{HEAD}: ValueError: bad row 42 {LOG_URL}"]
    assert texts(backup_gateway) == []
    assert [e for e in events(logs, "warning") if "credit" in e] == [
        "iSendPro alert: could not read the credit of connection 'isendpro_default' (IsendproServerError: "
        "getCredit (POST /credit): iSendPro answered HTTP 500); sending the alert without the low-credit "
        "check (next read in 300 s)"
    ]


def test_a_hanging_read_is_abandoned_at_the_timeout(emu: IsendproEmulator) -> None:
    emu.inject("hang", "/credit", delay=20)
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(to=ONCALL, min_credit=10, credit_timeout=0.2)(task_context(ValueError("bad row 42")))
    assert texts(emu) == [f"{HEAD}: ValueError: bad row 42 {LOG_URL}"]
    assert [e for e in events(logs, "warning") if "credit" in e] == [
        "iSendPro alert: could not read the credit of connection 'isendpro_default' (no answer within "
        "credit_timeout=0.2 s); sending the alert without the low-credit check (next read in 300 s)"
    ]


def test_reads_are_cached_per_connection_failures_too(
    emu: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(credit_module, "_monotonic", lambda: now[0])
    notifier = IsendproNotifier(to=ONCALL, text="{{ ti.task_id }} failed", min_credit=10, dedupe=False,
                                throttle=None, credit_cache="1m")  # fmt: skip
    emu.inject("http_500", "/credit")
    notifier(task_context(None, task_id="a"))  # read: fails
    notifier(task_context(None, task_id="b"))  # the failure is cached: no read
    now[0] += 61
    notifier(task_context(None, task_id="c"))  # read: 3.20 EUR
    notifier(task_context(None, task_id="d"))  # cached
    assert len(emu.requests_to("/credit")) == 2
    assert texts(emu) == [
        "a failed", "b failed",
        "c failed Credit low: 3.10 EUR left (min 10.00 EUR)",  # a and b cost 0.05 EUR each
        "d failed Credit low: 3.10 EUR left (min 10.00 EUR)",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The triggerer's path (Deadline Alerts)


def test_async_low_credit_and_fallback(
    emu: IsendproEmulator, backup: IsendproNotifier, backup_gateway: IsendproEmulator
) -> None:
    backup.text = "[backup] {{ isendpro_alert.reason }}"
    asyncio.run(
        IsendproNotifier(to=ONCALL, min_credit=10, fallback=backup).async_notify(dict(DEADLINE_CONTEXT))
    )
    assert texts(emu) == [f"{DEADLINE_HEAD} Credit low: 3.20 EUR left (min 10.00 EUR)"]
    assert texts(backup_gateway) == [f"[backup] {LOW}"]


def test_async_hanging_read_is_cancelled_at_the_timeout(emu: IsendproEmulator) -> None:
    emu.inject("hang", "/credit", delay=20)
    notifier = IsendproNotifier(to=ONCALL, text="late", min_credit=10, credit_timeout=0.2)
    with structlog.testing.capture_logs() as logs:
        asyncio.run(notifier.async_notify(dict(DEADLINE_CONTEXT)))
    assert texts(emu) == ["late"]
    assert "no answer within credit_timeout=0.2 s" in " ".join(events(logs, "warning"))


# --------------------------------------------------------------------------------------------------
# Settings, checked when the DAG file is parsed


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ({"min_credit": 10, "min_sms": 100}, "min_credit",
         "give exactly one threshold, min_credit (euros) or min_sms (SMS to France); both were given"),
        ({"min_credit": -1}, "min_credit", "min_credit=-1: must be a number >= 0 (euros)"),
        ({"min_sms": 2.5}, "min_sms", "min_sms=2.5: must be a whole number >= 0 (SMS)"),
        ({"min_credit": 10, "credit_timeout": 0}, "credit_timeout",
         "credit_timeout=0: must be a positive number of seconds (default 2)"),
        ({"min_credit": 10, "credit_cache": "soon"}, "credit_cache",
         "credit_cache='soon': must be a duration such as \"5m\" or \"90s\", a timedelta, or 0 to read it "
         "every time"),
    ],
)  # fmt: skip
def test_settings_are_checked(settings: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        IsendproNotifier(to=ONCALL, **settings)
    assert (exc.value.field, exc.value.message) == (field, message)


def test_no_threshold_no_read(emu: IsendproEmulator) -> None:
    notifier = IsendproNotifier(to=ONCALL, text="x")
    assert notifier.credit_watch is None
    notifier(task_context(None))
    assert emu.requests_to("/credit") == []
