"""``python -m airflow_provider_isendpro.testing`` as the demo and the benchmarks run it."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests


def _wait_for(path: Path, proc: subprocess.Popen[str], limit: float = 20.0) -> str:
    """Bounded poll of the ready file (the CLI writes it atomically once listening)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        if proc.poll() is not None:
            raise AssertionError(
                f"the CLI exited early with {proc.returncode}: {proc.stderr and proc.stderr.read()}"
            )
        time.sleep(0.02)
    raise AssertionError("the ready file never appeared")


@contextlib.contextmanager
def _emulator_cli(cmd: list[str]) -> Iterator[subprocess.Popen[str]]:
    """The CLI as a child process with its output piped; killed (if still running) and its pipes closed
    on the way out."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_cli_starts_answers_and_exits_cleanly(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    cmd = [
        sys.executable,
        "-m",
        "airflow_provider_isendpro.testing",
        "--port",
        "0",
        "--ready-file",
        str(ready),
        "--credit",
        "12.5",
        "--api-key",
        "cli-fake-keyid",
        "--config",
        json.dumps({"envelope": "object"}),
    ]
    with _emulator_cli(cmd) as proc:
        base_url = _wait_for(ready, proc)
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/cgi-bin")
        root = base_url.removesuffix("/cgi-bin")
        with requests.Session() as session:
            assert session.get(root + "/_emulator/health", timeout=5).json() == {
                "status": "ok",
                "base_url": base_url,
            }
            r = session.post(base_url + "/credit", data={"keyid": "cli-fake-keyid", "credit": "1"}, timeout=5)
            assert r.json() == {"etat": {"credit": "12.5"}}
            r = session.post(
                base_url + "/sms",
                json={"keyid": "cli-fake-keyid", "num": "0612345678", "sms": "x"},
                timeout=5,
            )
            assert r.json()["etat"]["etat"]["code"] == 0
            r = session.post(
                base_url + "/sms",
                json={"keyid": "wrong-fake-keyid", "num": "0612345678", "sms": "x"},
                timeout=5,
            )
            assert r.json()["etat"]["etat"][0]["code"] == "3"
            state = session.get(root + "/_emulator/state", timeout=5)
            assert "cli-fake-keyid" not in state.text
            assert "cli-fake-keyid" not in session.get(root + "/_emulator/requests", timeout=5).text
        listed = subprocess.run(
            [sys.executable, "-m", "airflow_provider_isendpro.testing", "sent", "--url", root],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert listed.stdout.splitlines() == ["1 SMS received", '0612345678  1 segment  GSM-7  "x"']
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        stdout = proc.stdout.read() if proc.stdout else ""
        conn = f'{{"conn_type": "isendpro", "host": "{base_url}", "password": "cli-fake-keyid"}}'
        assert stdout.splitlines() == [
            f"iSendPro emulator listening on {base_url} (a test double: it delivers nothing)",
            "API key: cli-fake-keyid",
            "Point Airflow at it (in the shell that runs Airflow):",
            f"  export AIRFLOW_CONN_ISENDPRO_DEFAULT='{conn}'",
            f"SMS received: python -m airflow_provider_isendpro.testing sent --url {root}",
            "One line per request follows (--quiet to silence). Ctrl+C stops the emulator.",
            "POST /cgi-bin/credit -> 200",
            "POST /cgi-bin/sms -> 200: 1 recipient, 1 segment: 0612345678 sent",
            "POST /cgi-bin/sms -> 400: refused: code 3, Your credentials are incorrect",
        ]
        assert "cli-fake-keyid" not in "".join(stdout.splitlines()[4:])  # only the banner shows the key


def test_cli_rejects_a_bad_config() -> None:
    cmd = [sys.executable, "-m", "airflow_provider_isendpro.testing", "--config", '{"nope": 1}']
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "nope" in done.stderr


def test_quiet_keeps_the_banner_and_drops_the_request_lines(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    cmd = [sys.executable, "-m", "airflow_provider_isendpro.testing", "--quiet", "--ready-file", str(ready)]
    with _emulator_cli(cmd) as proc:
        base_url = _wait_for(ready, proc)
        requests.post(
            base_url + "/credit", data={"keyid": "emulator-fake-keyid", "credit": "1"}, timeout=5
        ).raise_for_status()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        lines = proc.stdout.read().splitlines() if proc.stdout else []
        assert lines[0] == f"iSendPro emulator listening on {base_url} (a test double: it delivers nothing)"
        assert len(lines) == 6 and not any(" -> " in line for line in lines)


def test_sent_subcommand_says_when_nothing_listens() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "airflow_provider_isendpro.testing",
        "sent",
        "--url",
        f"http://127.0.0.1:{port}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(f"could not read http://127.0.0.1:{port}/_emulator/sent: ")
    assert done.stderr.rstrip().endswith("is the emulator running there?")
