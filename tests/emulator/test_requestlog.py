"""The emulator's one line per request, as the CLI prints it: faults, hangs, errors; never the keyid."""

from __future__ import annotations

import contextlib

from airflow_provider_isendpro.client import IsendproClient
from airflow_provider_isendpro.client.config import ClientConfig
from airflow_provider_isendpro.client.retry import NO_RETRY
from airflow_provider_isendpro.errors import IsendproError
from airflow_provider_isendpro.testing import IsendproEmulator
from airflow_provider_isendpro.testing.requestlog import format_request


def test_lines_for_sends_faults_and_reads(isendpro_emulator: IsendproEmulator) -> None:
    lines: list[str] = []
    isendpro_emulator.request_log = lines.append
    config = ClientConfig(
        api_key=isendpro_emulator.api_key, base_url=isendpro_emulator.base_url, retry=NO_RETRY
    )
    try:
        with IsendproClient(config) as client:
            numbers = ["0612345678", "0600000011", *(f"06123456{i:02d}" for i in range(10, 16))]
            client.send_sms_multi(numbers, "x" * 200)
            isendpro_emulator.inject("http_500", "/credit")
            with contextlib.suppress(IsendproError):
                client.get_credit()
            client.get_credit()
    finally:
        isendpro_emulator.request_log = None
    assert lines == [
        "POST /cgi-bin/smsmulti -> 200: 8 recipients, 14 segments: 0612345678 sent, "
        "0600000011 refused (code 11), 0612345610 sent, 0612345611 sent, 0612345612 sent, +3 more",
        "POST /cgi-bin/credit -> fault 'http_500'",
        "POST /cgi-bin/credit -> 200",
    ]
    assert not any(isendpro_emulator.api_key in line for line in lines)


def test_a_hang_is_logged_as_no_answer() -> None:
    assert format_request("POST", "/cgi-bin/sms") == "POST /cgi-bin/sms -> no answer (hang)"
    assert format_request("GET", "/cgi-bin/x", 502, b"<html>") == "GET /cgi-bin/x -> 502"


def test_404s_are_logged_with_why(isendpro_emulator: IsendproEmulator) -> None:
    import requests

    lines: list[str] = []
    isendpro_emulator.request_log = lines.append
    root = f"http://127.0.0.1:{isendpro_emulator.port}"
    try:
        with requests.Session() as http:
            http.post(f"{root}/cgi-bin/nope", json={"keyid": isendpro_emulator.api_key}, timeout=5)
            http.post(f"{root}/cgi-bn/credit", json={"keyid": isendpro_emulator.api_key}, timeout=5)
    finally:
        isendpro_emulator.request_log = None
    assert lines == [
        "POST /cgi-bin/nope -> 404: no such API operation",
        "POST /cgi-bn/credit -> 404: not an API path (the API is under /cgi-bin/)",
    ]


def test_a_tls_handshake_to_the_plain_http_emulator_is_logged(isendpro_emulator: IsendproEmulator) -> None:
    import socket

    lines: list[str] = []
    isendpro_emulator.request_log = lines.append
    try:
        with socket.create_connection(("127.0.0.1", isendpro_emulator.port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):  # the emulator answers, then closes: the line is logged by then
                answer += chunk
    finally:
        isendpro_emulator.request_log = None
    assert b"Error code: 400" in answer  # an HTTP/0.9-style answer: the request line had no version
    assert lines == [
        "(unreadable request) -> 400: not an HTTP request (https sent to this plain-http server?)"
    ]
