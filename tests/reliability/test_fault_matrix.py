"""Every client operation × every transport fault: the documented outcome, and nothing done twice.

The rule under test (DESIGN.md, safety principles; ``client/retry.py``): a call that is safe to repeat
(reads, idempotent changes) is retried on 5xx, 429 (after ``Retry-After``), timeouts, resets and
unreadable answers, and then succeeds; a call that is not (sends, billed HLR lookups, creations) is
retried only when nothing reached iSendPro (connection refused) and otherwise fails with
``IsendproUnknownOutcomeError`` once the request has left, or with the typed error iSendPro gave (400,
429). Each row checks the error class and ``retryable``, the requests the emulator received, the waits
the client asked for (injected: nothing really sleeps), and the emulator's state: an operation is
carried out exactly as often as once without a fault (after-accept faults), or not at all.

The send path is then run through ``SendSmsOperator`` under ``dag.test()`` with a retry after each
fault: no (number, text) pair reaches the emulator twice and every recipient is counted exactly once.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.client import ClientConfig, IsendproClient, endpoints
from airflow_provider_isendpro.errors import (
    IsendproApiError,
    IsendproError,
    IsendproRateLimitError,
    IsendproUnknownOutcomeError,
)
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import task_states, try_numbers, xcom_value
from tests.reliability.conftest import (
    CONN_ENV,
    KEY,
    NO_RETRY,
    RETRY,
    LateProxy,
    Sleeps,
    call,
    conn_json,
)
from tests.reliability.ops import OPS, Op, effects, prepare

READ_TIMEOUT = 0.3  # hang rows: every attempt that hangs costs this much
#: Hang rows where healthy requests follow the hanging one (a retry, the next batches): their answer must
#: come within the read timeout even on a loaded machine, so 0.3 s would make the row flaky there.
HEALTHY_AFTER_HANG = 1.0
SLOW_OK = 5.0  # other rows: a generous read timeout, never reached
RETRY_AFTER = 3.0
BEFORE_ACCEPT = ("reset", "hang", "http_500", "http_502", "http_503", "html", "malformed", "empty", "no_etat")
AFTER_ACCEPT = ("reset_after_accept", "hang_after_accept")
FAULTS = ("refused", *BEFORE_ACCEPT, *AFTER_ACCEPT, "http_429", "http_400")


def test_the_table_covers_every_client_operation() -> None:
    """A new client operation must get a row; each row's path and safety class match the request builder."""
    from airflow_provider_isendpro.client import AsyncIsendproClient

    methods = {name for name in vars(IsendproClient) if not name.startswith("_") and name in vars(endpoints)}
    assert {op.method for op in OPS} == methods
    assert methods <= set(vars(AsyncIsendproClient))
    assert len(OPS) == 18
    state = {"list_id": "7", "sub_key": "sub-key", "tmp": Path("unused")}
    for op in OPS:
        args, kwargs = op.call(state)
        built = getattr(endpoints, op.method)(*args, **kwargs)
        assert (op.method, built.path, built.repeatable) == (op.method, op.path, op.repeatable)


# --------------------------------------------------------------------------------------------------
# The expected outcome of a row


@dataclass(frozen=True)
class Expect:
    """``retried``: the call succeeded after ``delays``; else it raised ``error`` (``retryable``)."""

    retried: bool
    requests: int  # requests the emulator received for the call
    acted: bool  # the account changed exactly as one fault-free call changes it (else: not at all)
    delays: tuple[float, ...] = ()
    error: type[IsendproError] | None = None
    retryable: bool | None = None
    http_status: int | None = None


def expected(op: Op, fault: str) -> Expect:
    if fault == "refused":  # nothing reached iSendPro: any call, sends included, is retried
        return Expect(retried=True, requests=1, acted=True, delays=(0.5,))
    if fault == "http_400":
        return Expect(False, 1, acted=False, error=IsendproApiError, retryable=False, http_status=400)
    if fault == "http_429":
        if op.repeatable:
            return Expect(True, 2, acted=True, delays=(RETRY_AFTER,))
        return Expect(False, 1, acted=False, error=IsendproRateLimitError, retryable=True, http_status=429)
    if op.repeatable:
        return Expect(True, 2, acted=True, delays=(0.5,))
    status = {"http_500": 500, "http_502": 502, "http_503": 503}.get(fault)
    if fault in ("html", "malformed", "empty", "no_etat"):
        status = 200
    return Expect(
        False, 1, acted=fault in AFTER_ACCEPT, error=IsendproUnknownOutcomeError, retryable=False,
        http_status=status,
    )  # fmt: skip


_baselines: dict[str, dict[str, Any]] = {}


def baseline(emu: IsendproEmulator, op: Op, tmp: Path) -> dict[str, Any]:
    """The account after one fault-free call (computed once per operation)."""
    if op.method not in _baselines:
        state = prepare(emu, op, tmp)
        args, kwargs = op.call(state)
        with IsendproClient(ClientConfig(api_key=KEY, base_url=emu.base_url, retry=NO_RETRY)) as client:
            getattr(client, op.method)(*args, **kwargs)
        _baselines[op.method] = effects(emu)
    return _baselines[op.method]


ROWS = [pytest.param(op, fault, id=f"{op.method}-{fault}") for op in OPS for fault in FAULTS]


@pytest.mark.parametrize("transport", ["sync", "async"])
@pytest.mark.parametrize(("op", "fault"), ROWS)
def test_fault_row(
    emu: IsendproEmulator,
    sleeps: Sleeps,
    late_proxy: LateProxy,
    tmp_path: Path,
    op: Op,
    fault: str,
    transport: str,
) -> None:
    expect = expected(op, fault)
    after_ok = baseline(emu, op, tmp_path)
    state = prepare(emu, op, tmp_path)
    before = effects(emu)
    seen = len(emu.requests)
    base_url = emu.base_url
    if fault == "refused":
        base_url = late_proxy.base_url
        sleeps.hooks.append(late_proxy.open)  # iSendPro is back once the client waits to retry
    else:
        emu.inject(fault, op.path, retry_after=RETRY_AFTER, delay=30.0)
    timeout = SLOW_OK
    if fault.startswith("hang"):
        timeout = HEALTHY_AFTER_HANG if expect.retried else READ_TIMEOUT
    config = ClientConfig(
        api_key=KEY, base_url=base_url, connect_timeout=2.0, read_timeout=timeout, retry=RETRY
    )
    args, kwargs = op.call(state)

    error: IsendproError | None = None
    try:
        result = call(transport, config, sleeps, op.method, *args, **kwargs)
    except IsendproError as exc:
        error = exc
    emu.release_hangs()

    received = [r.path for r in emu.requests[seen:]]
    assert received == [op.path] * expect.requests
    assert tuple(sleeps.delays) == expect.delays
    destination = args[-1] if op.method.startswith("download_") else None
    if expect.retried:
        assert error is None, f"expected a retry and success, got {error!r}"
        assert result is not None
        if destination is not None:  # the retried download is whole, and where it was asked for
            assert (result.path, zipfile.is_zipfile(destination)) == (str(destination), True)
    else:
        assert type(error) is expect.error, f"got {error!r}"
        assert error is not None
        assert (error.retryable, error.http_status) == (expect.retryable, expect.http_status)
        label = getattr(endpoints, op.method)(*args, **kwargs).label  # "sendSms (POST /sms)"
        assert error.message.startswith(f"{label}: ")  # the call is named by its label, never its URL
        # A URL appears only as scheme, host, port and path (where to look), never with its query.
        assert "?" not in error.message and KEY not in repr(error)
        if isinstance(error, IsendproRateLimitError):
            assert error.retry_after == RETRY_AFTER
        if destination is not None:  # a failed download leaves no file behind
            assert not destination.exists()
    assert effects(emu) == (after_ok if expect.acted else before)
    if fault == "refused":
        assert late_proxy.accepted >= 1


def test_every_row_has_an_outcome() -> None:
    """The matrix size, and how its rows split between retried / typed error / unknown outcome."""
    outcomes = [expected(op, fault) for op in OPS for fault in FAULTS]
    assert len(outcomes) == 18 * 14 == 252
    retried = sum(e.retried for e in outcomes)
    unknown = sum(e.error is IsendproUnknownOutcomeError for e in outcomes)
    typed = len(outcomes) - retried - unknown
    assert (retried, unknown, typed) == (9 * 13 + 9, 9 * 11, 9 + 9 + 9)


# --------------------------------------------------------------------------------------------------
# The send path: SendSmsOperator under dag.test(), fault on batch 2 of 3, then the task's retry

MOBILES = [f"06{n:08d}" for n in range(12_345_600, 12_345_606)]
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def _send_dag(dag_id: str, ledger: str, errors: list[str]) -> Any:
    """Six recipients in three batches; ``errors`` collects why each failed try failed."""
    from airflow.sdk import DAG

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    def record(context: Any) -> None:
        errors.append(f"{type(context.get('exception')).__name__}: {context.get('exception')}")

    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        SendSmsOperator(
            task_id="send", recipients=MOBILES, text="Coupure prevue", batch_size=2, retries=1,
            retry_delay=dt.timedelta(0), ledger_path=ledger, on_retry_callback=record, on_unknown="warn",
            on_failure_callback=record,
        )  # fmt: skip
    return dag


def _counts(**changes: int) -> dict[str, int]:
    counts = dict.fromkeys(
        (
            "sent",
            "rejected",
            "invalid",
            "duplicate",
            "already_sent",
            "already_rejected",
            "unknown",
            "not_sent",
        ),
        0,
    )
    counts.update(changes)
    return counts


@dataclass(frozen=True)
class SendExpect:
    tries: int
    counts: dict[str, int]
    delivered: list[str]  # numbers the emulator accepted, each exactly once
    requests: int  # /smsmulti requests over both tries


def send_expected(fault: str) -> SendExpect:
    if fault == "refused":  # connect failures are retried inside the first try
        return SendExpect(1, _counts(sent=6), MOBILES, 3)
    if fault in ("http_429", "http_400"):  # refused whole: nothing done, the retry sends batch 2
        return SendExpect(2, _counts(already_sent=2, sent=4), MOBILES, 4)
    # Batch 2 left and no usable answer came back: in doubt, never resent; the send goes on with batch 3
    # (on_unknown="warn" here; the default "fail" would fail the task after it).
    delivered = MOBILES if fault in AFTER_ACCEPT else MOBILES[:2] + MOBILES[4:]
    return SendExpect(1, _counts(sent=4, unknown=2), delivered, 3)


@pytest.mark.integration
@pytest.mark.parametrize("fault", FAULTS)
def test_send_operator_row(
    emu: IsendproEmulator,
    sleeps: Sleeps,
    late_proxy: LateProxy,
    run_dag: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fault: str,
) -> None:
    expect = send_expected(fault)
    host = None
    if fault == "refused":
        host = late_proxy.base_url
        sleeps.hooks.append(late_proxy.open)
    else:
        emu.inject(fault, "/smsmulti", after=1, retry_after=RETRY_AFTER, delay=30.0)
    timeout = HEALTHY_AFTER_HANG if fault.startswith("hang") else SLOW_OK
    monkeypatch.setenv(CONN_ENV, conn_json(emu, host=host, read_timeout=timeout))

    errors: list[str] = []
    run = run_dag(_send_dag(f"fault_send_{fault}", str(tmp_path / "ledger"), errors))
    emu.release_hangs()

    pairs = [(s.tel, s.text) for s in emu.sent]  # the promises first: nobody twice, nobody lost
    assert len(pairs) == len(set(pairs)), f"an SMS was sent twice: {sorted(pairs)}"
    assert sorted(tel for tel, _ in pairs) == expect.delivered
    assert task_states(run) == {"send": "success"}, errors
    assert try_numbers(run) == {"send": expect.tries}, errors
    if fault == "refused":
        assert len(sleeps.delays) == 1  # one wait, then the connection opened
    assert len(emu.requests_to("/smsmulti")) == expect.requests
    result = xcom_value(run, "send")
    assert result["counts"] == expect.counts
    assert sum(result["counts"].values()) == result["input"] == len(MOBILES)
    assert sorted(r["number"] for r in result["recipients"]) == MOBILES  # each recipient once
    unknown = [r["number"] for r in result["recipients"] if r["status"] == "unknown"]
    assert unknown == (MOBILES[2:4] if expect.counts["unknown"] else [])
