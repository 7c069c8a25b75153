"""HTTP hygiene of the emulator: 405 with ``Allow`` for any method an API path does not serve (made-up
ones included), 404 for unknown paths, ``HEAD`` wherever ``GET`` works, ``OPTIONS``; all in one format and
on a keep-alive connection that stays usable."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest

from airflow_provider_isendpro.testing import IsendproEmulator

KEY = "emulator-fake-keyid"


@pytest.fixture
def conn(isendpro_emulator: IsendproEmulator) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", isendpro_emulator.port, timeout=5)
    yield connection
    connection.close()


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/cgi-bin/sms", "OPTIONS, POST"),
        ("PUT", "/cgi-bin/sms", "OPTIONS, POST"),
        ("DELETE", "/cgi-bin/smsmulti", "OPTIONS, POST"),
        ("PATCH", "/cgi-bin/repertoire", "OPTIONS, POST, PUT"),
        ("DELETE", "/cgi-bin/credit", "GET, HEAD, OPTIONS, POST"),
        ("POST", "/cgi-bin/campagne", "GET, HEAD, OPTIONS"),
        ("HEAD", "/cgi-bin/sms", "OPTIONS, POST"),
    ],
)
def test_405_carries_allow(conn: http.client.HTTPConnection, method: str, path: str, allow: str) -> None:
    status, headers, body = call(conn, method, path, b"{}" if method != "HEAD" else None)
    assert (status, headers["allow"]) == (405, allow)
    if method == "HEAD":
        assert body == b""
    else:
        assert b"405 Method Not Allowed" in body


def test_get_credit_refused_lists_post_only(
    conn: http.client.HTTPConnection, isendpro_emulator: IsendproEmulator
) -> None:
    isendpro_emulator.configure(accept_get_credit=False)
    status, headers, _ = call(conn, "GET", f"/cgi-bin/credit?keyid={KEY}&credit=1")
    assert (status, headers["allow"]) == (405, "OPTIONS, POST")


def test_head_works_where_get_does(conn: http.client.HTTPConnection) -> None:
    get = call(conn, "GET", f"/cgi-bin/credit?keyid={KEY}&credit=1")
    head = call(conn, "HEAD", f"/cgi-bin/credit?keyid={KEY}&credit=1")
    assert get[0] == head[0] == 200
    assert get[2] == b'{"etat":{"credit":"100.0"}}'
    assert head[2] == b""
    assert head[1]["content-length"] == get[1]["content-length"] == str(len(get[2]))
    assert head[1]["content-type"] == get[1]["content-type"]
    # Control endpoints too.
    status, _, body = call(conn, "HEAD", "/_emulator/health")
    assert (status, body) == (200, b"")


def test_options_lists_the_methods(conn: http.client.HTTPConnection) -> None:
    status, headers, body = call(conn, "OPTIONS", "/cgi-bin/subaccount")
    assert (status, headers["allow"], body) == (200, "OPTIONS, POST, PUT", b"")
    assert call(conn, "OPTIONS", "/cgi-bin/nope")[0] == 404


@pytest.mark.parametrize("method", ["TRACE", "FROB", "PROPFIND"])
def test_other_methods_get_405_with_allow(conn: http.client.HTTPConnection, method: str) -> None:
    status, headers, body = call(conn, method, "/cgi-bin/sms", b'{"keyid": "x"}')
    assert (status, headers["allow"], headers["content-type"]) == (
        405,
        "OPTIONS, POST",
        "text/html; charset=utf-8",
    )
    assert b"405 Method Not Allowed" in body
    # The body was read and the connection kept: the next request on it is answered normally.
    assert call(conn, "GET", f"/cgi-bin/credit?keyid={KEY}&credit=1")[0] == 200
    # Unknown paths are 404 whatever the method.
    assert call(conn, method, "/cgi-bin/nope", b"{}")[0] == 404
    assert call(conn, method, "/elsewhere")[0] == 404


def test_legacy_paths_join_allow_when_enabled(
    conn: http.client.HTTPConnection, isendpro_emulator: IsendproEmulator
) -> None:
    assert call(conn, "OPTIONS", "/cgi-bin/keyword")[0] == 404
    isendpro_emulator.configure(legacy_endpoints=True)
    assert call(conn, "OPTIONS", "/cgi-bin/keyword")[1]["allow"] == "GET, HEAD, OPTIONS, POST"
    assert call(conn, "GET", "/cgi-bin/qualification")[1]["allow"] == "OPTIONS, POST"
