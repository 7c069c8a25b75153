"""No secret and no phone number in any log line, with a real server in front of the receiver.

Airflow's API server writes one access line per request with its path and query string: uvicorn's
access log on Airflow 3.1, Airflow's ``HttpAccessLogMiddleware`` (structlog, ``http.access``) from 3.2.
Both read the request's ASGI scope, which the receiver rewrites before routing. Here a real uvicorn server
(access log on, as 3.1 runs it) serves the receiver mounted under ``/isendpro`` inside Airflow's own
middleware when this Airflow has it, as ``create_app`` stacks them.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn

from tests.receipts.conftest import NUMBER, SECRET, TRACKER, dlr_path, mounted, stored


def _access_log_middleware() -> Any:
    try:  # Airflow 3.2+
        from airflow.api_fastapi.common.http_access_log import HttpAccessLogMiddleware
    except ImportError:  # Airflow 3.1: uvicorn's own access log only
        return None
    return HttpAccessLogMiddleware


@pytest.fixture
def server(ledger: Path, secret: str) -> Iterator[str]:
    """The receiver behind a real uvicorn on a loopback port (the socket listens before the thread starts,
    so requests wait in its backlog: no polling for readiness)."""
    app = mounted()
    middleware = _access_log_middleware()
    if middleware is not None:
        app = middleware(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(app, access_log=True, log_config=None, lifespan="off", log_level="info")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_access_logs_carry_neither_the_secret_nor_the_number(
    server: str, ledger: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    valid = {"tel": NUMBER, "statut": "0", "tracker": TRACKER}
    with structlog.testing.capture_logs() as events, httpx.Client(base_url=server) as http:
        assert http.get(dlr_path(), params=valid).status_code == 200
        assert http.get(dlr_path(), params=valid).status_code == 200
        assert http.get(dlr_path(SECRET[:-1] + "X"), params=valid).status_code == 404
        assert http.get(dlr_path(SECRET) + "/more", params=valid).status_code == 404
        assert http.get(dlr_path(), params={**valid, "tel": "1"}).status_code == 400
        assert http.put(dlr_path(), params=valid).status_code == 405
    assert len(stored(ledger)) == 1

    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) == 6
    assert access[0].endswith(
        f'"GET /isendpro/dlr/REDACTED?tel=REDACTED&statut=0&tracker={TRACKER} HTTP/1.1" 200'
    )
    assert access[2].endswith(
        f'"GET /isendpro/dlr/REDACTED?tel=REDACTED&statut=0&tracker={TRACKER} HTTP/1.1" 404'
    )
    assert access[5].endswith(
        f'"PUT /isendpro/dlr/REDACTED?tel=REDACTED&statut=0&tracker={TRACKER} HTTP/1.1" 405'
    )
    every_line = [r.getMessage() for r in caplog.records] + [repr(e) for e in events]
    assert every_line
    for line in every_line:
        assert SECRET[:16] not in line
        assert NUMBER not in line
    if _access_log_middleware() is not None:
        requests = [e for e in events if e["event"] == "request finished"]
        assert [(e["method"], e["path"], e["status_code"]) for e in requests] == [
            ("GET", "/isendpro/dlr/REDACTED", 200),
            ("GET", "/isendpro/dlr/REDACTED", 200),
            ("GET", "/isendpro/dlr/REDACTED", 404),
            ("GET", "/isendpro/dlr/REDACTED", 404),
            ("GET", "/isendpro/dlr/REDACTED", 400),
            ("PUT", "/isendpro/dlr/REDACTED", 405),
        ]
        assert requests[0]["query"] == f"tel=REDACTED&statut=0&tracker={TRACKER}"
