"""``python -m airflow_provider_isendpro.testing.demo``: the README's ``make demo``.

Starts the emulator in its own process, points an ``isendpro_default`` connection at it, runs an example
DAG through Airflow (``airflow dags test``, with a throw-away SQLite metadata DB), then prints the SMS the
emulator received. Everything it creates lives under ``--workdir`` (default ``.demo/``); it stops the
emulator however it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .config import DEFAULT_API_KEY


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float) -> str:
    """The emulator's base URL once it listens (it writes the ready file atomically)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        if process.poll() is not None:
            raise SystemExit(f"the emulator exited with code {process.returncode}; see its log")
        time.sleep(0.05)
    raise SystemExit(f"the emulator did not start within {timeout:g} s")


def _airflow(args: list[str], env: dict[str, str], log: Path) -> int:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("wb") as out:
        return subprocess.run(  # noqa: S603 (fixed argv of our own airflow CLI, no shell)
            [airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        ).returncode


def _sent(root_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{root_url}/_emulator/sent", timeout=10) as response:  # noqa: S310 (loopback)
        data = json.load(response)
    return list(data["sent"] if isinstance(data, dict) else data)


def _print_sms(sent: list[dict[str, Any]]) -> None:
    if not sent:
        print("   (none)")
    for n, sms in enumerate(sent, 1):
        who = f"from {sms['sender']}" if sms.get("sender") else "default sender"
        print(f"  #{n} to {sms['tel']} ({who}, {sms['segments']} segment(s), {sms['encoding']}):")
        for line in str(sms["text"]).splitlines() or [""]:
            print(f"      | {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_isendpro.testing.demo")
    parser.add_argument("--dag", default="isendpro_alerting", help="example DAG id to run")
    parser.add_argument("--dags-folder", default="dags_examples")
    parser.add_argument("--workdir", default=".demo")
    parser.add_argument("--expect", default=None, help="the DAG run state the example is meant to end in")
    parser.add_argument(
        "--expect-sms", type=int, default=None, help="how many SMS the example is meant to send (else: any)"
    )
    args = parser.parse_args(argv)

    work = Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ready = work / "emulator.url"
    emulator_log = (work / "emulator.log").open("wb")
    emulator = subprocess.Popen(  # noqa: S603 (fixed argv: this interpreter, no shell)
        [
            sys.executable,
            "-m",
            "airflow_provider_isendpro.testing",
            "--port",
            "0",
            "--ready-file",
            str(ready),
        ],
        stdout=emulator_log,
        stderr=subprocess.STDOUT,
    )
    try:
        base_url = _wait_for(ready, emulator, timeout=30)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(Path(args.dags_folder).resolve()),
            "AIRFLOW__ISENDPRO__LEDGER_PATH": str(work / "ledger"),
            "AIRFLOW_CONN_ISENDPRO_DEFAULT": json.dumps(
                {"conn_type": "isendpro", "host": base_url, "password": DEFAULT_API_KEY}
            ),
        }
        print(f"== iSendPro emulator listening on {base_url} (a test double: nothing is delivered)")
        print("== migrating a throw-away Airflow metadata DB (SQLite)")
        if _airflow(["db", "migrate"], env, work / "migrate.log"):
            print(f"airflow db migrate failed; see {work / 'migrate.log'}")
            return 1
        print(f"== airflow dags test {args.dag}  (log: {work / 'dag.log'})")
        _airflow(["dags", "test", args.dag], env, work / "dag.log")
        finished = re.findall(
            r"DagRun Finished: dag_id=[^,]+,.*?state=(\w+)", (work / "dag.log").read_text(errors="replace")
        )
        state = finished[-1] if finished else "unknown (see the log)"
        intended = " (as intended: a task of this example fails on purpose)" if state == args.expect else ""
        print(f"   DAG run state: {state}{intended}")
        if args.expect and state != args.expect:
            print(f"   expected {args.expect!r}: see {work / 'dag.log'}")
            return 1
        sent = _sent(base_url.rsplit("/cgi-bin", 1)[0])
        print(f"== SMS received by the emulator: {len(sent)}")
        _print_sms(sent)
        if args.expect_sms is not None and len(sent) != args.expect_sms:
            log = work / "dag.log"
            print(f"   expected {args.expect_sms} SMS, the emulator received {len(sent)}: see {log}")
            return 1
        return 0 if sent else 1
    finally:
        emulator.terminate()
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
        emulator_log.close()


if __name__ == "__main__":
    raise SystemExit(main())
