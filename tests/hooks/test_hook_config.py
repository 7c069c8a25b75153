"""The connection → client configuration, and every way a connection can be wrong (no request is made)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_isendpro.errors import IsendproConfigError
from airflow_provider_isendpro.hooks.isendpro import IsendproHook

KEY = "hook-config-fake-key-1234"


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "isendpro_default", **fields: object) -> None:
    payload = {"conn_type": "isendpro", "password": KEY, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))


def test_constructing_the_hook_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = IsendproHook("does_not_exist")  # no connection, no error: nothing read yet
    assert hook.isendpro_conn_id == "does_not_exist"


def test_defaults_from_an_empty_host(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)
    config = IsendproHook().config
    assert config.base_url == "https://apirest.isendpro.com/cgi-bin"
    assert config.timeouts == (5.0, 30.0)
    assert config.sandbox is False
    assert KEY not in repr(config)


def test_json_connection_with_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        "sms",
        host="http://127.0.0.1:8099/cgi-bin/",
        extra={"connect_timeout": 2, "read_timeout": "7.5", "sandbox": "true", "sender": "ACME"},
    )
    hook = IsendproHook("sms")
    assert hook.config.base_url == "http://127.0.0.1:8099/cgi-bin"
    assert hook.config.timeouts == (2.0, 7.5)
    assert hook.config.sandbox is True
    assert hook.default_sender == "ACME"


def test_uri_connection_rebuilds_an_https_base_url_and_casts_string_extras(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_URI",
        f"isendpro://:{KEY}@apirest.isendpro.com/cgi-bin?read_timeout=12&sandbox=false",
    )
    config = IsendproHook("isendpro_uri").config
    assert config.base_url == "https://apirest.isendpro.com/cgi-bin"
    assert config.read_timeout == 12.0
    assert config.sandbox is False
    assert config.api_key == KEY


@pytest.mark.parametrize(
    ("uri", "base_url"),
    [
        ("isendpro://:KEY@127.0.0.1:8025/cgi-bin", "http://127.0.0.1:8025/cgi-bin"),
        ("isendpro://:KEY@localhost:8025/cgi-bin", "http://localhost:8025/cgi-bin"),
        ("isendpro://:KEY@api.example.com:8443/cgi-bin", "https://api.example.com:8443/cgi-bin"),
    ],
)
def test_uri_connection_scheme_follows_the_host(
    monkeypatch: pytest.MonkeyPatch, uri: str, base_url: str
) -> None:
    """Loopback (the emulator) is http, like the JSON form's URL; any other host is https."""
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_URI", uri.replace("KEY", KEY))
    assert IsendproHook("isendpro_uri").config.base_url == base_url


def test_the_key_is_masked_as_soon_as_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.log import redact

    set_conn(monkeypatch)
    IsendproHook().config  # noqa: B018
    assert redact(f"keyid={KEY}") == "keyid=***"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": ""}, "connection 'bad' has no API key: put the iSendPro keyid in its password field"),
        ({"password": "   "}, "connection 'bad' has no API key"),
        (
            {"host": "http://apirest.isendpro.com/cgi-bin"},
            "connection 'bad': base URL 'http://apirest.isendpro.com/cgi-bin' uses plain http",
        ),
        (
            {"host": "apirest.isendpro.com/cgi-bin"},
            "base URL 'apirest.isendpro.com/cgi-bin' has no scheme: write the full URL, "
            "e.g. https://apirest.isendpro.com/cgi-bin",
        ),
        (
            {"extra": {"read_timeout": "thirty"}},
            "connection 'bad': read_timeout must be a number of seconds, got 'thirty'",
        ),
        (
            {"extra": {"connect_timeout": -1}},
            "connect_timeout must be a positive, finite number of seconds, got -1",
        ),
        (
            {"extra": {"sandbox": "maybe"}},
            "connection 'bad': extra 'sandbox' must be true or false, got 'maybe'",
        ),
        ({"host": "ftp://example.com"}, "has no http(s) scheme or no host"),
    ],
)
def test_bad_connections_fail_before_any_request(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, object], message: str
) -> None:
    set_conn(monkeypatch, "bad", **fields)
    with pytest.raises(IsendproConfigError) as err:
        IsendproHook("bad").client  # noqa: B018
    assert message in str(err.value)
    assert KEY not in str(err.value)


def test_unknown_connection_id_names_it_and_says_how_to_create_it() -> None:
    with pytest.raises(IsendproConfigError) as err:
        IsendproHook("nope").client  # noqa: B018
    assert str(err.value) == (
        "connection 'nope' could not be read (AirflowNotFoundException): create it in the UI "
        "(Admin → Connections, type 'iSendPro SMS') or set AIRFLOW_CONN_NOPE"
    )


@pytest.mark.parametrize(
    "host", ["http://localhost:9/cgi-bin", "http://[::1]:9/cgi-bin", "http://127.3.4.5/x"]
)
def test_plain_http_is_allowed_on_loopback_only(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    set_conn(monkeypatch, host=host)
    assert IsendproHook().config.base_url == host


def test_test_connection_never_raises_on_a_bad_connection() -> None:
    ok, message = IsendproHook("missing_conn").test_connection()
    assert ok is False
    assert "connection 'missing_conn' could not be read" in message
