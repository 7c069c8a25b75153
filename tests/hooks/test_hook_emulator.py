"""``IsendproHook`` against the emulator: test_connection, the sync client, the async client."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from airflow_provider_isendpro.client import AsyncIsendproClient, IsendproClient, RetryPolicy
from airflow_provider_isendpro.errors import IsendproError
from airflow_provider_isendpro.hooks.isendpro import IsendproHook
from airflow_provider_isendpro.testing import IsendproEmulator

ALLOW_LIST = (
    "check the API key, and that this machine's public IP is on the account's allow-list "
    "(iSendPro customer area: Mon compte → Mon API)"
)
NO_RETRY = RetryPolicy(max_attempts=1)


def set_conn(monkeypatch: pytest.MonkeyPatch, emu: IsendproEmulator, conn_id: str, **fields: object) -> None:
    conn = {"conn_type": "isendpro", "host": emu.base_url, "password": emu.api_key, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_test_connection_reads_the_credit(isendpro_emulator: IsendproEmulator) -> None:
    assert IsendproHook().test_connection() == (
        True,
        "Connected to iSendPro: credit 100.00 EUR (about 2000 SMS to France)",
    )
    (request,) = isendpro_emulator.requests
    assert (request.method, request.path, request.body) == (
        "POST", "/credit", {"keyid": isendpro_emulator.api_key, "credit": "2"},
    )  # fmt: skip


def test_test_connection_with_a_wrong_key_points_at_the_allow_list(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, isendpro_emulator, "isendpro_bad_key", password="not-the-fake-keyid")

    assert IsendproHook("isendpro_bad_key").test_connection() == (
        False,
        "getCredit (POST /credit): iSendPro refused the request: code 3, 'Your credentials are incorrect'; "
        f"{ALLOW_LIST}",
    )


def test_test_connection_on_a_hanging_server_returns_false(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, isendpro_emulator, "isendpro_slow", extra={"read_timeout": 0.3})
    isendpro_emulator.inject("hang", "/credit", times=None)

    ok, message = IsendproHook("isendpro_slow").test_connection()  # default retry policy

    assert (ok, message) == (
        False,
        f"getCredit (POST /credit): no answer from iSendPro in time (read timeout); {ALLOW_LIST}",
    )
    assert len(isendpro_emulator.requests_to("/credit")) == 1  # the Test button never retries


def test_test_connection_when_nothing_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = {"conn_type": "isendpro", "host": f"http://127.0.0.1:{port}/cgi-bin", "password": "fake"}
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_DOWN", json.dumps(conn))

    ok, message = IsendproHook("isendpro_down", retry=NO_RETRY).test_connection()

    assert ok is False
    assert message == (  # no API-key or allow-list hint: nothing was reached
        f"getCredit (POST /credit): could not connect to iSendPro at http://127.0.0.1:{port} "
        "(connection refused); nothing was sent; nothing listens on that host and port: check the base "
        "URL's host and port, and that the server (or the local emulator: python -m "
        "airflow_provider_isendpro.testing) is running"
    )


def test_test_connection_to_a_wrong_path_says_check_the_path_not_the_key(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = isendpro_emulator.base_url.replace("/cgi-bin", "/cgi-bn")
    set_conn(monkeypatch, isendpro_emulator, "isendpro_path", host=wrong)

    assert IsendproHook("isendpro_path", retry=NO_RETRY).test_connection() == (
        False,
        f"getCredit (POST /credit): {wrong}/credit answered HTTP 404 with an unreadable body (an HTML page); "
        "this does not look like iSendPro's API: check the base URL's path (iSendPro: "
        "https://apirest.isendpro.com/cgi-bin; the local emulator: http://127.0.0.1:8025/cgi-bin)",
    )


def test_the_hook_client_sends_through_the_connection(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, isendpro_emulator, "isendpro_sandbox", extra={"sandbox": "true", "sender": "ACME"})
    hook = IsendproHook("isendpro_sandbox")

    client = hook.get_conn()
    result = client.send_sms("0612345678", "Bonjour", sender=hook.default_sender)
    hook.close()

    assert isinstance(client, IsendproClient)
    assert hook.get_conn() is client  # one client (one pooled session) per hook
    assert result.recipients[0].accepted
    (sms,) = isendpro_emulator.sent
    assert (sms.sender, sms.sandbox) == ("ACME", True)
    assert isendpro_emulator.credit == 100.0  # sandbox: not billed


def test_get_async_client_reads_the_connection_without_blocking_the_loop(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync ``get_connection`` (which may block on the API server) never runs on the loop thread."""
    set_conn(
        monkeypatch, isendpro_emulator, "isendpro_async", extra={"read_timeout": 12, "connect_timeout": 3}
    )
    on_the_loop: list[str] = []
    original = IsendproHook.get_connection

    def guarded(cls: type[IsendproHook], conn_id: str) -> object:
        try:
            asyncio.get_running_loop()
            on_the_loop.append(conn_id)
        except RuntimeError:
            pass
        return original(conn_id)

    monkeypatch.setattr(IsendproHook, "get_connection", classmethod(guarded))

    async def main() -> tuple[AsyncIsendproClient, float]:
        hook = IsendproHook("isendpro_async")
        client = await hook.get_async_client()
        async with client:
            credit = await client.get_credit()
        return client, credit.euros

    client, euros = asyncio.run(main())

    assert on_the_loop == []
    assert euros == 100.0
    assert isinstance(client, AsyncIsendproClient)
    assert (client.config.base_url, client.config.timeouts) == (isendpro_emulator.base_url, (3.0, 12.0))
    assert len(isendpro_emulator.requests) == 1


def test_get_async_client_on_an_unknown_connection_names_it() -> None:
    from airflow_provider_isendpro.errors import IsendproConfigError

    with pytest.raises(IsendproConfigError, match=r"connection 'nope' could not be read \(") as raised:
        asyncio.run(IsendproHook("nope").get_async_client())
    assert "AIRFLOW_CONN_NOPE" in raised.value.message


def test_uri_connection_to_the_emulator_uses_http(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_URI",
        f"isendpro://:{isendpro_emulator.api_key}@127.0.0.1:{isendpro_emulator.port}/cgi-bin",
    )
    hook = IsendproHook("isendpro_uri")
    assert hook.config.base_url == isendpro_emulator.base_url
    assert hook.test_connection() == (
        True,
        "Connected to iSendPro: credit 100.00 EUR (about 2000 SMS to France)",
    )


TLS_MESSAGE = (
    "getCredit (POST /credit): could not connect to iSendPro at https://127.0.0.1:{port} "
    "(TLS handshake failed); nothing was sent; "
    "the server did not complete a TLS handshake: check the base URL's scheme (the local emulator speaks "
    "plain http, e.g. http://127.0.0.1:8025/cgi-bin) and, for iSendPro, the machine's CA certificates"
)


def test_https_to_a_plain_http_server_says_tls_not_api_key(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    https_url = isendpro_emulator.base_url.replace("http://", "https://")
    set_conn(monkeypatch, isendpro_emulator, "isendpro_tls", host=https_url)

    tls_message = TLS_MESSAGE.format(port=isendpro_emulator.port)
    assert IsendproHook("isendpro_tls", retry=NO_RETRY).test_connection() == (False, tls_message)

    async def read_credit() -> str:
        client = await IsendproHook("isendpro_tls", retry=NO_RETRY).get_async_client()
        async with client:
            with pytest.raises(IsendproError) as raised:
                await client.get_credit()
        return raised.value.message

    assert asyncio.run(read_credit()) == tls_message
