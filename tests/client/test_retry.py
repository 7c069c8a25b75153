"""The retry policy (DESIGN.md safety principles), with the sleep injected and recorded: nothing waits.

A send is attempted once whenever the request may have reached iSendPro (read timeout, 5xx, reset,
unreadable answer) and retried only when nothing did (connection refused). Reads retry on 5xx, 429
(honouring ``Retry-After``), timeouts and resets, with capped exponential backoff. Every scenario runs
on the sync client and on the async one.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_isendpro.client import RetryPolicy
from airflow_provider_isendpro.errors import (
    IsendproApiError,
    IsendproAuthError,
    IsendproConnectError,
    IsendproError,
    IsendproRateLimitError,
    IsendproResponseError,
    IsendproServerError,
    IsendproTimeoutError,
    IsendproTransportError,
    IsendproUnknownOutcomeError,
)
from airflow_provider_isendpro.testing import IsendproEmulator

from .conftest import MakeClient

STEADY = RetryPolicy(max_attempts=4, backoff_initial=0.5, backoff_max=30.0, jitter=False)
SEND_CALLS = [
    ("send_sms", ("0612345678", "Alerte"), "/sms"),
    ("send_sms_multi", (["0612345678", "0756123456"], "Alerte"), "/smsmulti"),
]
SEND_IDS = ["sms", "smsmulti"]


def raised_by(client: Any, method: str, *args: Any) -> IsendproError:
    with pytest.raises(IsendproError) as info:
        client(method, *args)
    return info.value


# --------------------------------------------------------------------------------------------------
# RetryPolicy on its own


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(backoff_initial=0.5, backoff_max=3.0, jitter=False)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


@pytest.mark.parametrize(("rand", "expected"), [(0.0, [0.5, 1.0, 2.0]), (1.0, [1.0, 2.0, 4.0])])
def test_jitter_spreads_between_half_and_all_of_the_backoff(rand: float, expected: list[float]) -> None:
    policy = RetryPolicy(backoff_initial=1.0, jitter=True, rand=lambda: rand)
    assert [policy.backoff(n) for n in (1, 2, 3)] == expected


def test_max_attempts_must_allow_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts must be at least 1, got 0"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("repeatable", "attempt", "error", "expected"),
    [
        (False, 1, IsendproConnectError("x"), 0.5),  # nothing reached iSendPro: even a send
        (False, 4, IsendproConnectError("x"), None),  # but never past max_attempts
        (True, 2, IsendproServerError("x"), 1.0),
        (False, 1, IsendproServerError("x"), None),  # not repeatable
        (True, 1, IsendproApiError("x", code=4), None),  # a refusal is not retried
        (True, 1, IsendproAuthError("x", code=3), None),
        (True, 1, IsendproUnknownOutcomeError("x"), None),
        (True, 1, IsendproRateLimitError("x", retry_after=7.0), 7.0),
        (True, 3, IsendproRateLimitError("x", retry_after=None), 2.0),  # no header: backoff
        (True, 1, IsendproRateLimitError("x", retry_after=120.0), 120.0),
        (True, 1, IsendproRateLimitError("x", retry_after=120.5), None),  # above retry_after_max
        (True, 1, IsendproTimeoutError("x"), 0.5),
        (True, 1, IsendproResponseError("x"), 0.5),
        (True, 1, IsendproTransportError("x"), 0.5),
    ],
)
def test_next_delay(repeatable: bool, attempt: int, error: IsendproError, expected: float | None) -> None:
    assert STEADY.next_delay(repeatable=repeatable, attempt=attempt, error=error) == expected


# --------------------------------------------------------------------------------------------------
# Sends are attempted once when the request may have arrived


@pytest.mark.parametrize(("method", "args", "path"), SEND_CALLS, ids=SEND_IDS)
def test_a_send_is_attempted_once_on_a_read_timeout_after_acceptance(
    make_client: MakeClient, emu: IsendproEmulator, method: str, args: tuple[Any, ...], path: str
) -> None:
    emu.inject("hang_after_accept", path, times=None)
    client = make_client(read_timeout=0.3, retry=STEADY)

    error = raised_by(client, method, *args)

    assert type(error) is IsendproUnknownOutcomeError
    assert emu.wait_hanging(1)
    assert len(emu.requests) == 1
    texted_once = len(args[0]) if isinstance(args[0], list) else 1
    assert len(emu.sent) == texted_once  # the server acted: every number texted, exactly once
    assert client.delays == []


@pytest.mark.parametrize(("method", "args", "path"), SEND_CALLS, ids=SEND_IDS)
@pytest.mark.parametrize("fault", ["http_500", "http_502", "http_503", "reset", "reset_after_accept"])
def test_a_send_is_attempted_once_on_a_5xx_or_a_reset(
    make_client: MakeClient,
    emu: IsendproEmulator,
    method: str,
    args: tuple[Any, ...],
    path: str,
    fault: str,
) -> None:
    emu.inject(fault, path, times=None)
    client = make_client(retry=STEADY)

    error = raised_by(client, method, *args)

    assert type(error) is IsendproUnknownOutcomeError
    assert error.retryable is False
    status = int(fault[5:]) if fault.startswith("http_") else None
    assert error.http_status == status
    assert error.message.startswith(f"{'sendSms' if path == '/sms' else 'sendSmsMulti'} (POST {path}): ")
    assert len(emu.requests) == 1
    assert client.delays == []


@pytest.mark.parametrize(("method", "args", "path"), SEND_CALLS, ids=SEND_IDS)
def test_a_send_is_retried_when_the_connection_was_refused(
    make_client: MakeClient, free_port: int, method: str, args: tuple[Any, ...], path: str
) -> None:
    late = IsendproEmulator(port=free_port)  # not listening yet: the first attempt is refused

    def start_server(sleep_number: int) -> None:
        if sleep_number == 1:
            late.start()

    client = make_client(
        base_url=f"http://127.0.0.1:{free_port}/cgi-bin", retry=STEADY, on_sleep=start_server
    )
    try:
        result = client(method, *args)
        assert client.delays == [0.5]
        assert [r.accepted for r in result.recipients] == [True] * len(result.recipients)
        assert len(late.requests) == 1
        assert len(late.sent) == len(result.recipients)
        assert [r.path for r in late.requests] == [path]
    finally:
        late.stop()


def test_a_billed_hlr_lookup_is_not_retried_on_5xx(make_client: MakeClient, emu: IsendproEmulator) -> None:
    emu.inject("http_500", "/hlr", times=None)
    client = make_client(retry=STEADY)
    error = raised_by(client, "hlr_lookup", ["0612345678"])
    assert type(error) is IsendproUnknownOutcomeError
    assert (len(emu.requests), client.delays) == (1, [])


def test_a_credit_transfer_is_not_retried_on_5xx(make_client: MakeClient, emu: IsendproEmulator) -> None:
    emu.inject("http_502", "/subaccount", times=None)
    client = make_client(retry=STEADY)
    error = raised_by(client, "add_sub_account_credit", "emulator-sub-0000000000", 5)
    assert type(error) is IsendproUnknownOutcomeError
    assert (len(emu.requests), client.delays) == (1, [])


# --------------------------------------------------------------------------------------------------
# Reads retry


@pytest.mark.parametrize("fault", ["http_500", "http_502", "http_503", "reset", "malformed", "no_etat"])
def test_a_credit_read_retries_until_it_succeeds(
    make_client: MakeClient, emu: IsendproEmulator, fault: str
) -> None:
    emu.inject(fault, "/credit", times=2)
    client = make_client(retry=STEADY)

    assert client("get_credit").to_dict() == {"euros": 100.0, "sms_estimate": 2000}
    assert client.delays == [0.5, 1.0]
    assert len(emu.requests) == 3


def test_a_credit_read_retries_after_a_read_timeout(make_client: MakeClient, emu: IsendproEmulator) -> None:
    emu.inject("hang", "/credit")
    client = make_client(read_timeout=0.3, retry=STEADY)

    assert client("get_credit").euros == 100.0
    assert client.delays == [0.5]
    assert len(emu.requests) == 2


def test_a_429_is_retried_after_the_retry_after_it_gave(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    emu.inject("http_429", "/credit", retry_after=3)
    client = make_client(retry=STEADY)

    assert client("get_credit").euros == 100.0
    assert client.delays == [3.0]  # the header's value, not the 0.5 s backoff
    assert len(emu.requests) == 2


def test_a_retry_after_of_zero_retries_at_once(make_client: MakeClient, emu: IsendproEmulator) -> None:
    emu.inject("http_429", "/credit", retry_after=0)
    client = make_client(retry=STEADY)

    assert client("get_credit").euros == 100.0
    assert client.delays == [0.0]


@pytest.mark.parametrize(("method", "args", "path"), SEND_CALLS, ids=SEND_IDS)
def test_a_rate_limited_send_is_not_retried(
    make_client: MakeClient, emu: IsendproEmulator, method: str, args: tuple[Any, ...], path: str
) -> None:
    emu.inject("http_429", path, retry_after=1)
    client = make_client(retry=STEADY)

    error = raised_by(client, method, *args)

    assert type(error) is IsendproRateLimitError
    assert (len(emu.requests), emu.sent, client.delays) == (1, [], [])


def test_a_retry_after_above_the_maximum_is_not_waited_for(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    emu.inject("http_429", "/credit", retry_after=600)
    client = make_client(retry=RetryPolicy(jitter=False, retry_after_max=120))

    error = raised_by(client, "get_credit")

    assert type(error) is IsendproRateLimitError
    assert error.retry_after == 600.0
    assert (
        error.message == "getCredit (POST /credit): iSendPro is rate limiting (HTTP 429, retry after 600 s)"
    )
    assert client.delays == []
    assert len(emu.requests) == 1


def test_downloads_retry_and_still_land_whole(
    make_client: MakeClient, emu: IsendproEmulator, tmp_path: Any
) -> None:
    emu.inject("http_502", "/getlistenoire")
    emu.inject("reset", "/campagne")
    client = make_client(retry=STEADY)

    blacklist = client("download_blacklist", tmp_path / "b.zip")
    report = client("download_campaign_report", "2026-01-01", "2026-02-01", tmp_path / "r.zip")

    assert (blacklist.size, report.size) == (
        (tmp_path / "b.zip").stat().st_size,
        (tmp_path / "r.zip").stat().st_size,
    )
    assert client.delays == [0.5, 0.5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip", "r.zip"]


def test_backoff_through_the_client_doubles_and_is_capped(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    emu.inject("http_500", "/credit", times=5)
    client = make_client(
        retry=RetryPolicy(max_attempts=6, backoff_initial=0.5, backoff_max=1.5, jitter=False)
    )

    assert client("get_credit").euros == 100.0
    assert client.delays == [0.5, 1.0, 1.5, 1.5, 1.5]


# --------------------------------------------------------------------------------------------------
# Giving up


@pytest.mark.parametrize(
    ("fault", "error_type", "message"),
    [
        ("http_503", IsendproServerError, "getCredit (POST /credit): iSendPro answered HTTP 503"),
        ("http_429", IsendproRateLimitError,
         "getCredit (POST /credit): iSendPro is rate limiting (HTTP 429, retry after 2 s)"),
    ],
)  # fmt: skip
def test_exhausted_attempts_raise_the_last_error_naming_the_operation_and_status(
    make_client: MakeClient,
    emu: IsendproEmulator,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    error_type: type[IsendproError],
    message: str,
) -> None:
    emu.inject(fault, "/credit", times=None)
    client = make_client(retry=RetryPolicy(max_attempts=3, jitter=False))
    caplog.set_level(logging.WARNING, "airflow_provider_isendpro")

    error = raised_by(client, "get_credit")

    assert type(error) is error_type
    assert error.message == message
    assert error.http_status == int(fault[5:])
    assert len(emu.requests) == 3
    assert len(client.delays) == 2
    assert caplog.messages[-1] == "iSendPro getCredit (POST /credit) failed after 3 attempts"
    assert caplog.messages[0].startswith("iSendPro getCredit (POST /credit) attempt 1/3 failed (")


def test_a_refused_request_is_never_retried(make_client: MakeClient, emu: IsendproEmulator) -> None:
    client = make_client(api_key="wrong-fake-keyid-0000", retry=STEADY)
    error = raised_by(client, "get_credit")
    assert type(error) is IsendproAuthError
    assert (error.code, len(emu.requests), client.delays) == (3, 1, [])
