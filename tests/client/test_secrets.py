"""The API key never leaks: not in logs, exceptions, reprs, XCom-bound results, or JSON/form URLs.

The hook is driven through ``AIRFLOW_CONN_*`` connections holding a distinctive fake key, against an
emulator that accepts it, along the success path and every failure path (each error class, including
the calls whose URL holds the key: ``/campagne`` and the liste-noire operations). Everything the run
produced is then searched for the key: every stdlib log record (root logger at DEBUG, so the HTTP
libraries' own records count too), every structlog event, every exception with its whole
``__cause__``/``__context__`` chain and formatted traceback, and the reprs of the objects involved.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog.testing

from airflow_provider_isendpro.client import ClientConfig, IsendproClient, RetryPolicy, endpoints
from airflow_provider_isendpro.client.calls import to_wire
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
    IsendproValidationError,
)
from airflow_provider_isendpro.hooks.isendpro import IsendproHook
from airflow_provider_isendpro.testing import MAGIC_HTTP_400, IsendproEmulator

KEY = "LEAKCHECK-fake-key-7f3a9c"
WRONG_KEY = "LEAKCHECK-wrong-key-51d2e8"
SECRETS = (KEY, WRONG_KEY)
#: Operations whose fields (keyid included) the spec puts in the query string.
QUERY_PATHS = frozenset({"/campagne", "/setlistenoire", "/dellistenoire", "/getlistenoire"})
#: Retries without waiting: real ``time.sleep(0)`` inside the hook's client.
QUICK_RETRY = RetryPolicy(max_attempts=2, backoff_initial=0.0, jitter=False)
NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture(scope="module")
def leak_emulator() -> Iterator[IsendproEmulator]:
    emulator = IsendproEmulator(api_keys=(KEY,))
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def emu(
    leak_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch, free_port: int
) -> Iterator[IsendproEmulator]:
    """Connections: ``isendpro_default`` (the key), ``_slow`` (0.3 s read timeout), ``_wrong`` (a key
    the emulator refuses) and ``_down`` (nothing listening)."""
    emu = leak_emulator
    emu.reset()
    base = {"conn_type": "isendpro", "host": emu.base_url, "password": KEY}
    connections = {
        "ISENDPRO_DEFAULT": base,
        "ISENDPRO_SLOW": {**base, "extra": {"read_timeout": 0.3}},
        "ISENDPRO_WRONG": {**base, "password": WRONG_KEY},
        "ISENDPRO_DOWN": {**base, "host": f"http://127.0.0.1:{free_port}/cgi-bin"},
    }
    for name, conn in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(conn))
    yield emu
    emu.release_hangs()
    emu.clear_faults()


class Run:
    """Collects what a scenario produced: exceptions raised, results, objects to repr."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.errors: list[BaseException] = []
        self.results: list[Any] = []
        self.objects: list[Any] = []
        self.messages: list[str] = []

    def hook(self, conn_id: str = "isendpro_default", retry: RetryPolicy = QUICK_RETRY) -> IsendproHook:
        hook = IsendproHook(conn_id, retry=retry)
        self.objects += [hook, hook.config, hook.client]
        self.objects.append(to_wire(endpoints.download_blacklist(io.BytesIO()), hook.config))
        return hook

    def expect(self, error: type[IsendproError], action: Callable[[], Any]) -> IsendproError:
        with pytest.raises(IsendproError) as raised:
            action()
        assert type(raised.value) is error
        self.errors.append(raised.value)
        return raised.value

    def ok(self, action: Callable[[], Any]) -> Any:
        result = action()
        self.results.append(result)
        return result

    def test_connection(self, conn_id: str, retry: RetryPolicy = QUICK_RETRY) -> tuple[bool, str]:
        ok, message = IsendproHook(conn_id, retry=retry).test_connection()
        self.messages.append(message)
        return ok, message


def _successes(run: Run, emu: IsendproEmulator) -> None:
    hook = run.hook()
    client = hook.get_conn()
    run.ok(client.get_credit)
    run.ok(lambda: client.send_sms("0612345678", "Bonjour", sender="ACME", tracker="T1"))
    run.ok(lambda: client.send_sms_multi(["0612345678", "0756123456"], "Salut"))
    run.ok(lambda: client.hlr_lookup(["0612345678"]))
    run.ok(lambda: client.count_message("0612345678", "Bonjour"))
    list_id = run.ok(lambda: client.create_contact_list("Astreinte")).list_id
    run.ok(lambda: client.add_to_contact_list(list_id, ["0612345678"], names=["Ann"]))
    run.ok(lambda: client.send_to_contact_list(list_id, "Ce soir"))
    run.ok(lambda: client.remove_from_contact_list(list_id, ["0612345678"]))
    run.ok(lambda: client.download_campaign_report("2000-01-01", "2099-01-01", run.tmp_path / "r.zip"))
    run.ok(lambda: client.blacklist_add("0756123456"))
    run.ok(lambda: client.download_blacklist(run.tmp_path / "b.zip"))
    run.ok(lambda: client.blacklist_remove("0756123456"))
    run.ok(lambda: client.create_short_link("https://example.com/a"))
    sub = run.ok(lambda: client.create_sub_account("agence06", "sub-password-1"))
    run.ok(lambda: client.set_sub_account_price(sub.api_key, 0.04, "33"))
    run.ok(lambda: client.add_sub_account_credit(sub.api_key, 1))
    run.ok(lambda: client.set_sub_account_restrictions(sub.api_key, stop_mention=True, quiet_hours=True))
    assert run.test_connection("isendpro_default") == (
        True, "Connected to iSendPro: credit 99.80 EUR (about 1996 SMS to France)",
    )  # fmt: skip
    hook.close()
    assert len(emu.sent) == 4


def _auth(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook("isendpro_wrong").client
    run.expect(IsendproAuthError, client.get_credit)
    run.expect(
        IsendproAuthError, lambda: client.download_campaign_report("2026-01-01", "2026-02-01", io.BytesIO())
    )
    run.expect(IsendproAuthError, lambda: client.blacklist_add("0612345678"))
    ok, message = run.test_connection("isendpro_wrong")
    assert not ok
    assert "allow-list" in message


def _api_error(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook().client
    run.expect(IsendproApiError, lambda: client.send_sms(MAGIC_HTTP_400, "Hi"))
    emu.inject("http_400", "/getlistenoire")
    run.expect(IsendproApiError, lambda: client.download_blacklist(io.BytesIO()))


def _server_error(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook().client
    emu.inject("http_500", times=None)
    run.expect(IsendproServerError, client.get_credit)  # retried once: the retry log line is checked too
    run.expect(
        IsendproServerError, lambda: client.download_campaign_report("2026-01-01", "2026-02-01", io.BytesIO())
    )
    run.expect(IsendproServerError, lambda: client.blacklist_remove("0612345678"))
    assert run.test_connection("isendpro_default")[0] is False


def _rate_limit(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook().client
    emu.inject("http_429", times=None, retry_after=0)
    run.expect(IsendproRateLimitError, client.get_credit)
    run.expect(IsendproRateLimitError, lambda: client.download_blacklist(io.BytesIO()))


def _response_error(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook().client
    for fault in ("malformed", "html", "empty", "no_etat"):
        emu.inject(fault, times=2)
        run.expect(IsendproResponseError, client.get_credit)
        emu.inject(fault, times=2)
        run.expect(IsendproResponseError, lambda: client.blacklist_add("0612345678"))


def _timeout(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook("isendpro_slow", NO_RETRY).client  # each hang costs the 0.3 s read timeout
    emu.inject("hang", times=None)
    run.expect(IsendproTimeoutError, client.get_credit)
    run.expect(
        IsendproTimeoutError,
        lambda: client.download_campaign_report("2026-01-01", "2026-02-01", io.BytesIO()),
    )
    ok, message = run.test_connection("isendpro_slow", NO_RETRY)
    assert (ok, message.split(";")[0]) == (
        False,
        "getCredit (POST /credit): no answer from iSendPro in time (read timeout)",
    )


def _connect_error(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook("isendpro_down").client
    run.expect(IsendproConnectError, client.get_credit)
    run.expect(
        IsendproConnectError,
        lambda: client.download_campaign_report("2026-01-01", "2026-02-01", io.BytesIO()),
    )
    run.expect(IsendproConnectError, lambda: client.blacklist_add("0612345678"))
    run.expect(IsendproConnectError, lambda: client.send_sms("0612345678", "Hi"))
    assert run.test_connection("isendpro_down")[0] is False


def _unknown_outcome(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook("isendpro_slow").client
    emu.inject("hang_after_accept", "/sms")
    run.expect(IsendproUnknownOutcomeError, lambda: client.send_sms("0612345678", "Hi"))
    emu.inject("reset_after_accept", "/smsmulti")
    run.expect(IsendproUnknownOutcomeError, lambda: client.send_sms_multi(["0612345678"], "Hi"))
    emu.inject("http_502", "/subaccount")
    run.expect(IsendproUnknownOutcomeError, lambda: client.create_sub_account("agence07", "pw"))


def _transport(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook().client
    emu.inject("reset", times=None)
    run.expect(IsendproTransportError, client.get_credit)
    run.expect(
        IsendproTransportError,
        lambda: client.download_campaign_report("2026-01-01", "2026-02-01", io.BytesIO()),
    )
    run.expect(IsendproTransportError, lambda: client.download_blacklist(run.tmp_path / "never.zip"))


def _validation(run: Run, emu: IsendproEmulator) -> None:
    client = run.hook().client
    run.expect(IsendproValidationError, lambda: client.send_sms("0612", "Hi"))
    run.expect(
        IsendproValidationError, lambda: client.download_campaign_report("2026-02-01", "2026-01-01", "x.zip")
    )
    assert emu.requests == []


def _async(run: Run, emu: IsendproEmulator) -> None:
    async def main() -> None:
        for conn_id in ("isendpro_default", "isendpro_down", "isendpro_wrong"):
            hook = IsendproHook(conn_id, retry=QUICK_RETRY)
            async with await hook.get_async_client() as client:
                run.objects += [hook, client, client.config]
                for action in (
                    client.get_credit,
                    lambda: client.download_campaign_report("2000-01-01", "2099-01-01", io.BytesIO()),
                    lambda: client.blacklist_add("0612345678"),
                    lambda: client.send_sms("0612345678", "Hi"),
                ):
                    try:
                        run.results.append(await action())
                    except IsendproError as exc:
                        run.errors.append(exc)
        emu.inject("hang", times=None)
        slow = await IsendproHook("isendpro_slow", retry=NO_RETRY).get_async_client()
        async with slow:
            for action in (slow.get_credit, lambda: slow.download_blacklist(io.BytesIO())):
                try:
                    await action()
                except IsendproTimeoutError as exc:
                    run.errors.append(exc)

    asyncio.run(main())
    assert len(run.results) == 4
    assert {type(e) for e in run.errors} == {IsendproConnectError, IsendproAuthError, IsendproTimeoutError}
    assert len(run.errors) == 10


SCENARIOS: dict[str, Callable[[Run, IsendproEmulator], None]] = {
    "success": _successes,
    "auth": _auth,
    "api_error": _api_error,
    "server_error": _server_error,
    "rate_limit": _rate_limit,
    "response_error": _response_error,
    "timeout": _timeout,
    "connect_error": _connect_error,
    "unknown_outcome": _unknown_outcome,
    "transport": _transport,
    "validation": _validation,
    "async": _async,
}


def exception_chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_key_appears_nowhere(
    emu: IsendproEmulator, caplog: pytest.LogCaptureFixture, tmp_path: Path, scenario: str
) -> None:
    run = Run(tmp_path)
    # Everything at DEBUG: ours, and the HTTP libraries' own request lines (Airflow sets httpx to WARNING).
    for name in ("", "airflow_provider_isendpro", "httpx", "httpcore", "urllib3"):
        caplog.set_level(logging.DEBUG, name)
    with structlog.testing.capture_logs() as events:
        SCENARIOS[scenario](run, emu)

    found: dict[str, list[str]] = {}
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text} {vars(record)!r}"
        found.update({f"log {record.name}: {record.getMessage()[:120]}": leaks(text)})
    for event in events:
        found.update({f"structlog {event.get('event')!r}": leaks(repr(event))})
    for error in run.errors:
        for link in exception_chain(error):
            text = f"{link} {link!r} {link.args!r} {''.join(traceback.format_exception(link))}"
            found.update({f"exception {type(link).__name__}: {link}": leaks(text)})
    for obj in run.objects:
        found.update({f"repr {type(obj).__name__}": leaks(f"{obj!r} {obj!s}")})
    for result in run.results:
        data = result.to_dict() if hasattr(result, "to_dict") else [r.to_dict() for r in result]
        found.update({f"to_dict {type(result).__name__}": leaks(json.dumps(data))})
    for message in run.messages:
        found.update({f"test_connection: {message}": leaks(message)})
    assert {where: secrets for where, secrets in found.items() if secrets} == {}

    # On the wire: the key is in the JSON/form body, never in a URL, except where the spec puts the
    # fields in the query string (API-NOTES §2); never in a header.
    for request in emu.requests:
        assert not any(leaks(value) for value in request.headers.values())
        assert not leaks(request.path)
        if request.path in QUERY_PATHS:
            assert (request.query["keyid"] in SECRETS, request.body) == (True, None)
        else:
            assert not leaks(json.dumps(request.query))
            assert request.body["keyid"] in SECRETS
    assert run.errors or run.results  # the scenario did run
    if scenario not in ("success", "validation"):
        assert caplog.records  # and logged something that was searched


def test_a_new_sub_account_key_is_masked_and_kept_out_of_to_dict(emu: IsendproEmulator) -> None:
    from airflow.sdk.log import redact

    hook = IsendproHook()
    sub = hook.get_conn().create_sub_account("agence09", "sub-password-9")
    hook.close()

    assert sub.api_key.startswith("emulator-sub-")
    assert redact(sub.api_key) == "***"
    assert redact(f"key={sub.api_key}") == "key=***"
    assert redact("sub-password-9") == "***"  # the password sent is masked too
    assert "api_key" not in sub.to_dict()
    assert sub.api_key not in json.dumps(sub.to_dict())
    assert sub.api_key not in repr(sub)


def test_the_client_hands_every_secret_to_on_secret(emu: IsendproEmulator) -> None:
    received: list[str] = []
    config = ClientConfig(api_key=KEY, base_url=emu.base_url, on_secret=received.append)
    with IsendproClient(config) as client:
        sub = client.create_sub_account("agence10", "pw-10")
        client.add_sub_account_credit(sub.api_key, 2)
    assert received == ["pw-10", sub.api_key, sub.api_key]
    assert KEY not in repr(config)
