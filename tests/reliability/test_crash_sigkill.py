"""A bulk send killed with SIGKILL in the middle of a request, then run again: nobody is texted twice.

The task runs as a real Airflow task process, ``airflow tasks test <dag> send <run_id>``, in its own
``AIRFLOW_HOME`` (SQLite, migrated once) against the in-process emulator. The emulator carries out batch 3
of 5 and then holds the answer (``hang_after_accept``): once it reports the request held, the process is
known to be inside batch 3's request, and it is killed with SIGKILL (no ``finally``, no handler runs).
The same task instance (same DAG run) is then run again to completion.

Proven: the emulator received each of the 10 numbers exactly once; the ledger shows batches 1, 2, 4 and
5 ``done`` and batch 3 still ``pending`` (in doubt: its request left and no answer was recorded); the
second run's XCom (read from the metadata DB) counts 4 ``already_sent``, 2 ``unknown`` (batch 3, not
resent) and 4 ``sent``, which add up to the 10 input recipients (the DAG says ``on_unknown="warn"``;
the default would fail the task for those 2); the second run, the same try number run again after the
crash, takes over the dead process's claim at once (same machine, its PID gone); its task log says the
same; neither run's output holds the API key.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_isendpro.record_store import open_record_store
from airflow_provider_isendpro.sending.ledger import Ledger
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.reliability.conftest import KEY, conn_json

pytestmark = pytest.mark.integration

DAG_ID, TASK_ID = "crash_bulk", "send"
MOBILES = [f"06{n:08d}" for n in range(12_345_600, 12_345_610)]
BATCHES = [MOBILES[i : i + 2] for i in range(0, 10, 2)]
TEXT = "Coupure reseau ce soir"
DAG_FILE = f'''
import os
import pendulum
from airflow.sdk import DAG
from airflow_provider_isendpro.operators.sms import SendSmsOperator

with DAG("{DAG_ID}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    SendSmsOperator(
        task_id="{TASK_ID}", recipients={MOBILES!r}, text="{TEXT}", batch_size=2,
        ledger_path=os.environ["CRASH_LEDGER"], on_unknown="warn",
    )
'''
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


class AirflowCli:
    """``airflow`` commands in a private AIRFLOW_HOME, with the emulator connection in the environment."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.ledger = home / "ledger"
        dags = home / "dags"
        dags.mkdir(parents=True)
        (dags / "crash_bulk.py").write_text(DAG_FILE)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        self.env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            CRASH_LEDGER=str(self.ledger),
            PYTHONWARNINGS="ignore",
        )

    def run(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            return subprocess.Popen(
                [AIRFLOW, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def xcom(self, run_id: str, key: str = "return_value") -> Any:
        with closing(sqlite3.connect(self.home / "airflow.db")) as db:  # `with connect()` never closes
            row = db.execute(
                "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ?",
                (DAG_ID, run_id, TASK_ID, key),
            ).fetchone()
        assert row is not None, f"no {key!r} XCom for {run_id}"
        value = json.loads(row[0])
        return json.loads(value) if isinstance(value, str) else value

    def task_state(self, run_id: str) -> str | None:
        with closing(sqlite3.connect(self.home / "airflow.db")) as db:  # `with connect()` never closes
            row = db.execute(
                "SELECT state FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?",
                (DAG_ID, run_id, TASK_ID),
            ).fetchone()
        return None if row is None else str(row[0])

    def ledger_states(self, run_id: str) -> dict[tuple[str, ...], str]:
        """The ledger of the task instance: batch (its numbers, by tracker order) → state."""
        store = open_record_store(str(self.ledger), [DAG_ID, run_id, TASK_ID, "-1"])
        return {tuple(r.trackers): r.state for r in Ledger(store).records()}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> AirflowCli:
    cli = AirflowCli(tmp_path_factory.mktemp("crash-home"))
    cli.run("db", "migrate")
    cli.run("dags", "reserialize")
    return cli


def test_sigkill_inside_a_request_then_rerun_sends_everyone_exactly_once(
    cli: AirflowCli, emu: IsendproEmulator, tmp_path: Path
) -> None:
    run_id = "crash_run_1"
    cli.env["AIRFLOW_CONN_ISENDPRO_DEFAULT"] = conn_json(emu)
    cli.run("dags", "trigger", DAG_ID, "--run-id", run_id)
    emu.inject("hang_after_accept", "/smsmulti", after=2, delay=60)  # batch 3: carried out, never answered

    first_log = tmp_path / "first.log"
    process = cli.start("tasks", "test", DAG_ID, TASK_ID, run_id, log=first_log)
    try:
        reached = emu.wait_hanging(1, timeout=90)  # the process is now inside batch 3's request
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    emu.release_hangs()
    assert reached, first_log.read_text()
    assert process.returncode == -signal.SIGKILL

    # After the crash: batches 1-3 reached iSendPro; the ledger has 1 and 2 done, 3 pending.
    assert [s.tel for s in emu.sent] == [n for batch in BATCHES[:3] for n in batch]
    assert sorted(cli.ledger_states(run_id).values()) == ["done", "done", "pending"]

    second = cli.run("tasks", "test", DAG_ID, TASK_ID, run_id)
    assert cli.task_state(run_id) == "success", second[-3000:]

    pairs = [(s.tel, s.text) for s in emu.sent]
    assert len(pairs) == len(set(pairs)) == 10, pairs  # nobody twice, and nobody lost but batch 3's doubt
    assert sorted(tel for tel, _ in pairs) == MOBILES
    assert [len(r.body["num"]) for r in emu.requests_to("/smsmulti")] == [2] * 5  # 3 + 2: batch 3 not resent
    assert [r.body["num"] for r in emu.requests_to("/smsmulti")][3:] == BATCHES[3:]

    result = cli.xcom(run_id)
    assert result["counts"] == {
        "sent": 4, "rejected": 0, "invalid": 0, "duplicate": 0, "already_sent": 4, "already_rejected": 0,
        "unknown": 2, "not_sent": 0,
    }  # fmt: skip
    assert sum(result["counts"].values()) == result["input"] == 10
    by_status = {s: [r["number"] for r in result["recipients"] if r["status"] == s] for s in result["counts"]}
    assert by_status["already_sent"] == BATCHES[0] + BATCHES[1]
    assert by_status["unknown"] == BATCHES[2]
    assert by_status["sent"] == BATCHES[3] + BATCHES[4]
    assert result["batches"] == {"sent": 2, "from_ledger": 2, "unknown": 1, "not_sent": 0}
    assert result["requests"] == 2

    states = cli.ledger_states(run_id)
    assert sorted(states.values()) == ["done", "done", "done", "done", "pending"]
    unknown_trackers = {r["tracker"] for r in result["recipients"] if r["status"] == "unknown"}
    assert states[next(t for t in states if set(t) == unknown_trackers)] == "pending"

    assert "iSendPro send summary (10 recipients, 2 requests, 4 segments billed)" in second
    assert "outcome unknown since an earlier try" in json.dumps(result["recipients"])
    for output in (first_log.read_text(), second):
        assert KEY not in output
