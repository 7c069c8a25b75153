"""A connection that fails says what to check: the URL's scheme, host and port (never the key or a
query), and why: refused, name not resolved, TLS, or an answer that is not iSendPro's API (a wrong path).

The connect timeout has its exact message in ``tests/reliability/test_timeouts.py``.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from airflow_provider_isendpro.client import ClientConfig
from airflow_provider_isendpro.errors import IsendproApiError, IsendproConfigError, IsendproConnectError
from airflow_provider_isendpro.testing import IsendproEmulator

from .conftest import MakeClient


def error_of(client: Any, method: str = "get_credit") -> Any:
    with pytest.raises(Exception) as raised:
        client(method)
    return raised.value


def test_nothing_listening_names_host_and_port(make_client: MakeClient, free_port: int) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{free_port}/cgi-bin")
    error = error_of(client)
    assert type(error) is IsendproConnectError
    assert (error.http_status, error.retryable) == (None, True)
    assert error.message == (
        f"getCredit (POST /credit): could not connect to iSendPro at http://127.0.0.1:{free_port} "
        "(connection refused); nothing was sent; nothing listens on that host and port: check the base "
        "URL's host and port, and that the server (or the local emulator: python -m "
        "airflow_provider_isendpro.testing) is running"
    )


def test_a_host_name_that_does_not_resolve(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhots":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    client = make_client(base_url="https://localhots:8025/cgi-bin")
    error = error_of(client)
    assert type(error) is IsendproConnectError
    assert error.message == (
        "getCredit (POST /credit): could not connect to iSendPro at https://localhots:8025 "
        "(host name not resolved); nothing was sent; check the host name in the base URL (iSendPro: "
        "apirest.isendpro.com; the local emulator: 127.0.0.1 or localhost) and this machine's DNS"
    )


def test_https_to_the_plain_http_emulator_is_a_tls_failure(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    client = make_client(base_url=f"https://127.0.0.1:{emu.port}/cgi-bin")
    error = error_of(client)
    assert type(error) is IsendproConnectError
    assert error.message == (
        f"getCredit (POST /credit): could not connect to iSendPro at https://127.0.0.1:{emu.port} "
        "(TLS handshake failed); nothing was sent; the server did not complete a TLS handshake: check the "
        "base URL's scheme (the local emulator speaks plain http, e.g. http://127.0.0.1:8025/cgi-bin) and, "
        "for iSendPro, the machine's CA certificates"
    )


def test_a_wrong_path_gets_a_404_that_is_not_the_api_and_the_emulator_logs_it(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    lines: list[str] = []
    emu.request_log = lines.append
    try:
        error = error_of(make_client(base_url=f"http://127.0.0.1:{emu.port}/cgi-bn"))
    finally:
        emu.request_log = None
    assert type(error) is IsendproApiError
    assert (error.http_status, error.retryable) == (404, False)
    assert error.message == (
        f"getCredit (POST /credit): http://127.0.0.1:{emu.port}/cgi-bn/credit answered HTTP 404 with an "
        "unreadable body (an HTML page); this does not look like iSendPro's API: check the base URL's path "
        "(iSendPro: https://apirest.isendpro.com/cgi-bin; the local emulator: http://127.0.0.1:8025/cgi-bin)"
    )
    assert lines == ["POST /cgi-bn/credit -> 404: not an API path (the API is under /cgi-bin/)"]


def test_an_html_page_in_a_200_names_the_url_and_the_path(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    emu.inject("html", "/credit")
    error = error_of(make_client())
    assert error.message == (
        f"getCredit (POST /credit): unreadable answer from {emu.base_url}/credit (an HTML page); this does "
        "not look like iSendPro's API: check the base URL's path (iSendPro: "
        "https://apirest.isendpro.com/cgi-bin; the local emulator: http://127.0.0.1:8025/cgi-bin)"
    )


def test_a_localhost_typo_is_not_answered_use_https() -> None:
    with pytest.raises(IsendproConfigError) as raised:
        ClientConfig(api_key="k", base_url="http://localhots:8025/cgi-bin")
    assert raised.value.message == (
        "base URL 'http://localhots:8025/cgi-bin': host 'localhots' is not a loopback host; did you mean "
        "'localhost'? (plain http is accepted only for a loopback emulator such as "
        "http://localhost:8025/cgi-bin or http://127.0.0.1:8025/cgi-bin)"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://apirest.isendpro.com/cgi-bin?keyid=SECRET",
         "base URL 'http://apirest.isendpro.com/cgi-bin' uses plain http: the API key would travel "
         "unencrypted. Use https (plain http is accepted only for a loopback emulator such as "
         "http://127.0.0.1)"),
        ("apirest.isendpro.com/cgi-bin?keyid=SECRET",
         "base URL 'apirest.isendpro.com/cgi-bin' has no http(s) scheme or no host: use the full URL, "
         "e.g. 'https://apirest.isendpro.com/cgi-bin'"),
        ("https://apirest.isendpro.com/cgi-bin?keyid=SECRET",
         "base URL must not carry credentials, a query or a fragment: put the API key in the "
         "connection's password field"),
    ],
)  # fmt: skip
def test_base_url_messages_never_show_the_query(url: str, message: str) -> None:
    with pytest.raises(IsendproConfigError) as raised:
        ClientConfig(api_key="k", base_url=url)
    assert raised.value.message == message
