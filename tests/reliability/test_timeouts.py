"""A hanging iSendPro never hangs the provider: every operation gives up within its configured timeout.

The emulator's hangs are bounded (``HANG`` seconds, then it closes the connection without an answer),
so a client that ignored its timeout would not block the suite forever: it would get a closed
connection instead (or, for ``slow``, an answer), a different outcome, and fail the row. Nothing here
measures time; each row asserts the error class, its reason (``read timeout`` / ``connect timeout``) and
the requests that were made.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog.testing

from airflow_provider_isendpro.client import ClientConfig, RetryPolicy
from airflow_provider_isendpro.errors import (
    IsendproConnectError,
    IsendproError,
    IsendproTimeoutError,
    IsendproUnknownOutcomeError,
)
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.reliability.conftest import CONN_ENV, KEY, NO_RETRY, RETRY, Sleeps, call, conn_json, task_context
from tests.reliability.ops import OPS, Op, prepare

READ_TIMEOUT = 0.1  # no row needs an answer within it
# How long the emulator holds a hang before closing the connection without an answer: far above the
# configured timeout, and below httpx's own 5 s default, so a client that dropped the configured timeout
# sees a closed connection (another error) instead of a timeout.
HANG = 3.0


def _error(
    transport: str, config: ClientConfig, sleeps: Sleeps, op: Op, state: dict[str, Any]
) -> IsendproError:
    args, kwargs = op.call(state)
    with pytest.raises(IsendproError) as raised:
        call(transport, config, sleeps, op.method, *args, **kwargs)
    return raised.value


@pytest.mark.parametrize("transport", ["sync", "async"])
@pytest.mark.parametrize("op", [pytest.param(op, id=op.method) for op in OPS])
def test_every_operation_times_out(
    emu: IsendproEmulator, sleeps: Sleeps, tmp_path: Path, op: Op, transport: str
) -> None:
    state = prepare(emu, op, tmp_path)
    seen = len(emu.requests)
    emu.inject("hang", op.path, times=None, delay=HANG)
    config = ClientConfig(api_key=KEY, base_url=emu.base_url, read_timeout=READ_TIMEOUT, retry=NO_RETRY)

    error = _error(transport, config, sleeps, op, state)

    if op.repeatable:
        assert (type(error), error.retryable) == (IsendproTimeoutError, True), error
        assert error.message.endswith("no answer from iSendPro in time (read timeout)")
    else:  # it left: iSendPro may have acted, so it is in doubt and never repeated
        assert (type(error), error.retryable) == (IsendproUnknownOutcomeError, False), error
        assert "read timeout after the request was sent" in error.message
    assert emu.wait_hanging(1)  # the call returned while the emulator still holds the request
    emu.release_hangs()
    assert [r.path for r in emu.requests[seen:]] == [op.path]


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_retries_of_a_hanging_read_are_bounded(emu: IsendproEmulator, sleeps: Sleeps, transport: str) -> None:
    emu.inject("hang", "/credit", times=None, delay=HANG)
    config = ClientConfig(api_key=KEY, base_url=emu.base_url, read_timeout=READ_TIMEOUT, retry=RETRY)
    with pytest.raises(IsendproTimeoutError):
        call(transport, config, sleeps, "get_credit")
    emu.release_hangs()
    assert [r.path for r in emu.requests] == ["/credit"] * 4
    assert sleeps.delays == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_an_answer_slower_than_the_timeout_is_a_timeout(
    emu: IsendproEmulator, sleeps: Sleeps, transport: str
) -> None:
    """``slow`` answers normally, but after ``HANG`` seconds: the client stopped waiting long before."""
    emu.inject("slow", "/sms", delay=HANG)
    config = ClientConfig(api_key=KEY, base_url=emu.base_url, read_timeout=READ_TIMEOUT, retry=RETRY)
    with pytest.raises(IsendproUnknownOutcomeError) as raised:
        call(transport, config, sleeps, "send_sms", "0612345678", "Lent")
    assert emu.wait_hanging(1)
    emu.release_hangs()  # released early: the emulator then answers nothing
    assert "read timeout" in raised.value.message
    assert [r.path for r in emu.requests] == ["/sms"]
    assert sleeps.delays == []


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops new SYNs, so a connect never completes."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.2)
    try:
        probe.connect(("127.0.0.1", port))
    except TimeoutError:
        pass
    else:  # pragma: no cover - a kernel that accepts beyond the backlog
        pytest.skip("this kernel completes connections beyond the listen backlog")
    finally:
        probe.close()
    yield port
    for sock in [*fillers, server]:
        sock.close()


@pytest.mark.parametrize("transport", ["sync", "async"])
@pytest.mark.parametrize("method", ["send_sms", "get_credit"])
def test_a_connection_that_never_opens_times_out_and_sent_nothing(
    unanswered_port: int, sleeps: Sleeps, transport: str, method: str
) -> None:
    config = ClientConfig(
        api_key=KEY,
        base_url=f"http://127.0.0.1:{unanswered_port}/cgi-bin",
        connect_timeout=0.1,
        read_timeout=READ_TIMEOUT,
        retry=RetryPolicy(max_attempts=2, backoff_initial=0.5, jitter=False),
    )
    args = ("0612345678", "Bonjour") if method == "send_sms" else ()
    with pytest.raises(IsendproConnectError) as raised:
        call(transport, config, sleeps, method, *args)
    # Nothing reached iSendPro, so even the send was tried again, once, and then reported.
    assert (raised.value.retryable, sleeps.delays) == (True, [0.5])
    assert raised.value.message == (
        f"{'sendSms (POST /sms)' if method == 'send_sms' else 'getCredit (POST /credit)'}: could not "
        f"connect to iSendPro at http://127.0.0.1:{unanswered_port} (connect timeout); nothing was sent; "
        "no answer to the connection attempt: check the base URL's host and port, and that this machine "
        "can reach it (firewall, proxy, iSendPro's IP allow-list)"
    )


def test_hook_test_connection_returns_within_the_timeout(
    emu: IsendproEmulator, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    monkeypatch.setenv(CONN_ENV, conn_json(emu, read_timeout=READ_TIMEOUT))
    emu.inject("hang", "/credit", times=None, delay=HANG)
    ok, message = IsendproHook().test_connection()
    emu.release_hangs()
    assert ok is False
    assert message.startswith("getCredit (POST /credit): no answer from iSendPro in time (read timeout)")
    assert {r.path for r in emu.requests} == {"/credit"}


def test_sensor_poke_returns_not_done_on_a_hang_then_done(
    emu: IsendproEmulator, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_isendpro.sensors.credit import CreditSensor

    monkeypatch.setenv(CONN_ENV, conn_json(emu, read_timeout=READ_TIMEOUT))
    sensor = CreditSensor(task_id="credit", min_credit=10)
    emu.inject("hang", "/credit", times=None, delay=HANG)
    with structlog.testing.capture_logs() as logs:
        first = sensor.poke(task_context())
    emu.release_hangs()
    [warning] = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert warning == (
        "Could not read the iSendPro credit (getCredit (POST /credit): no answer from iSendPro in time "
        "(read timeout)); will check again"
    )
    emu.clear_faults()
    second = sensor.poke(task_context())
    assert (first.is_done, first.xcom_value) == (False, None)  # a passing failure: check again later
    assert (second.is_done, second.xcom_value) == (True, {"euros": 100.0, "sms_estimate": 2000})
    assert len(emu.requests_to("/credit")) == 4 + 1  # the hook's read retries, then one answer


def test_trigger_poll_survives_a_hang(
    emu: IsendproEmulator, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_isendpro.triggers.credit import CreditTrigger

    monkeypatch.setenv(CONN_ENV, conn_json(emu, read_timeout=0.5))
    emu.inject("hang", "/credit", delay=HANG)  # the first poll hangs, the second is answered
    trigger = CreditTrigger(min_credit=10, poll_interval=0.0)

    async def first_event() -> Any:
        return await trigger.run().__anext__()

    event = asyncio.run(first_event())
    emu.release_hangs()
    assert event.payload == {"status": "success", "credit": {"euros": 100.0, "sms_estimate": 2000}}
    assert len(emu.requests_to("/credit")) == 2


def test_notifier_returns_on_a_hang_and_records_the_doubt(
    emu: IsendproEmulator, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow_provider_isendpro.notifications.marker import current_records
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier
    from airflow_provider_isendpro.record_store import open_record_store

    monkeypatch.setenv(CONN_ENV, conn_json(emu, read_timeout=READ_TIMEOUT))
    emu.inject("hang", "/sms", times=None, delay=HANG)
    context = task_context("manual__timeout")
    context["ti"].dag_id, context["ti"].task_id, context["ti"].state = "etl", "load", "failed"
    IsendproNotifier(to="0612345678", text="Echec", ledger_path=str(tmp_path)).notify(context)
    emu.release_hangs()
    assert [r.path for r in emu.requests] == ["/sms"]
    store = open_record_store(f"{tmp_path}/_notifier", ["etl", "manual__timeout"])
    [marker] = current_records(store).values()
    assert marker["state"] == "unknown"
