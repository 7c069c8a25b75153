"""``airflow connections test`` prints what the README says: disabled by default, then only
"Connection success!", or "Connection failed!" with the hook's message (what to check)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_isendpro.testing import IsendproEmulator
from tests.docs.snippets import ROOT

pytestmark = pytest.mark.integration


def _cli(tmp_path: Path, connection: str, enabled: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow-home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_ISENDPRO_DEFAULT=connection,
    )
    if enabled:
        env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(airflow), "connections", "test", "isendpro_default"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_the_cli_test_is_disabled_by_default(tmp_path: Path, isendpro_emulator: IsendproEmulator) -> None:
    done = _cli(tmp_path, isendpro_emulator.connection_json(), enabled=False)
    assert done.returncode == 1
    assert _lines(done) == [
        "Testing connections is disabled in Airflow configuration. "
        "Contact your deployment admin to enable it."
    ]


def test_the_cli_prints_only_success_then_the_message_of_a_failure(
    tmp_path: Path, isendpro_emulator: IsendproEmulator
) -> None:
    done = _cli(tmp_path, isendpro_emulator.connection_json(), enabled=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _lines(done) == ["Retrieving connection: 'isendpro_default'", "Testing...", "Connection success!"]
    assert isendpro_emulator.requests_to("/credit")  # it did read the credit

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = {"conn_type": "isendpro", "host": f"http://127.0.0.1:{port}/cgi-bin", "password": "k"}
    done = _cli(tmp_path, json.dumps(down), enabled=True)
    assert done.returncode == 1
    lines = _lines(done)
    message = " ".join(line.strip() for line in lines[3:])  # the CLI's console wraps long lines
    assert [*lines[:3], message] == [
        "Retrieving connection: 'isendpro_default'",
        "Testing...",
        "Connection failed!",
        f"getCredit (POST /credit): could not connect to iSendPro at http://127.0.0.1:{port} "
        "(connection refused); nothing was sent; nothing listens on that host and port: check the base "
        "URL's host and port, and that the server (or the local emulator: python -m "
        "airflow_provider_isendpro.testing) is running",
    ]


def test_the_readme_says_how_to_enable_it_and_what_each_side_prints() -> None:
    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text(encoding="utf-8"))
    for claim in (
        "`[core] test_connection = Enabled` (`AIRFLOW__CORE__TEST_CONNECTION=Enabled`)",
        "`Connected to iSendPro: credit 42.50 EUR (about 850 SMS to France)`",
        "prints only `Connection success!` (Airflow's CLI drops the message) or `Connection failed!`",
    ):
        assert claim in readme
