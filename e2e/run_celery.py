"""``make e2e-celery``: exactly once on a distributed deployment, with workers killed under a send.

What it starts, all on loopback, all in one temporary directory, stopped by PID however it ends:
a throw-away PostgreSQL (``e2e/postgres.sh``), Redis (Debian's ``redis-server``) as the Celery broker,
``moto_server`` as the S3-compatible store of the send ledger, the iSendPro emulator, the scheduler,
dag-processor, triggerer and API server (CeleryExecutor), and two Celery workers ``w1`` and ``w2``, each
with its own ``AIRFLOW_HOME`` (two machines; ``hostname_callable`` names each try's worker) and
``--concurrency 1``. ``[scheduler] task_instance_heartbeat_timeout`` is 30 s (detection every 5 s).
The ledger is ``[isendpro] ledger_path = s3://…`` with ``ledger_conn_id = aws_default``; the only AWS
credentials are in that connection (no ``AWS_*`` variable), so the ledger proves it uses them.

Scenarios, in order (the DAGs are ``e2e/celery_dags/isendpro_celery_e2e.py`` and the mapped bulk example):

1. **local ledger** — workers without ``[isendpro] ledger_path``: the send is refused before any SMS and
   the task log names ``[isendpro] ledger_path``. The workers are then restarted with the S3 ledger.
2. **worker killed** (twice: ``on_unknown`` default and ``"warn"``) — batch 4's request is accepted by
   the emulator and held; every process of the worker running the task gets SIGKILL (task process
   included); the retry runs on the other worker. Each recipient received exactly once, batch 4 reported
   in doubt (``unknown``), the task failed (default) or succeeded (``"warn"``).
3. **task process left running** — requests slowed to 1.5 s; SIGKILL to the worker's process group only,
   so its task process goes on sending without heartbeats while the retry starts on the other worker.
   0 duplicates; the old try's last ledger claim record says it stopped "superseded by try 2"; the
   orphan process is gone by the end.
4. **mapped bulk example** — 200 numbers in 4 mapped tasks through the 2-slot pool, on both workers,
   batch files beside the S3 ledger: pool cap held, every SMS once.

Prints one line per check and a table (scenario, recipients, SMS received, duplicates, in doubt, final
state, seconds). Exit status 0 only if every check passed. ``--keep`` keeps the temporary directory.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    ADMIN,
    AIRFLOW,
    API_KEY,
    COMPONENTS,
    CREDIT,
    POOL,
    POSTGRES_SH,
    REPO,
    VENV_BIN,
    AirflowApi,
    CheckFailed,
    Checks,
    Deployment,
    Emulator,
    Outcome,
    Processes,
    Runner,
    Scenario,
    Sms,
    alive,
    free_port,
    run_tool,
    say,
    tail,
    wait_until,
)

BUDGET = 570.0
BUCKET = "isendpro-e2e"
#: Sizes, as in e2e/celery_dags/isendpro_celery_e2e.py.
RECIPIENTS, BATCH = 60, 5
ZOMBIE_RECIPIENTS, ZOMBIE_BATCH = 120, 3
BULK_SIZE, BULK_BATCH = 200, 50
BULK_NUMBERS = tuple(f"0612{300000 + n:06d}" for n in range(BULK_SIZE))
WORKERS = ("w1", "w2")
HOST_MODULE = '''
import os
import socket


def hostname() -> str:
    """The worker's name first: two workers of one machine stand for two machines."""
    return f"{os.environ.get('ISENDPRO_E2E_WORKER', 'main')}@{socket.gethostname()}"
'''


class CeleryDeployment(Deployment):
    """``e2e/run.py``'s deployment, with CeleryExecutor, Redis, an S3 ledger and two workers."""

    def __init__(self, work: Path, dags_folder: Path) -> None:
        super().__init__(work, dags_folder)
        self.services = Processes(self.logs)  # redis, moto: not in the runner's assert_alive
        self.workers = Processes(self.logs)  # killed on purpose: not in the runner's assert_alive
        self.s3_url = ""
        self.ledger_root = f"s3://{BUCKET}/ledger"
        self.pylib = work / "pylib"
        self.seen: set[int] = set()  # every worker process ever seen: none may be left at the end

    # --- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.home.mkdir(parents=True)
        self.logs.mkdir()
        self.pylib.mkdir()
        (self.pylib / "isendpro_e2e_host.py").write_text(HOST_MODULE)
        redis_port = self._start_services()
        sql_alchemy_conn = self._start_postgres()
        base_url = self._start_emulator()
        self.env = self._environment(base_url, sql_alchemy_conn, redis_port)

        say("== airflow db migrate (PostgreSQL)")
        started = time.monotonic()
        run_tool([AIRFLOW, "db", "migrate"], self.env, self.logs / "db-migrate.log", timeout=240)
        say(f"   done in {time.monotonic() - started:.1f} s")
        run_tool([AIRFLOW, "pools", "set", *POOL], self.env, self.logs / "pools.log", timeout=60)
        say(f"   pool {POOL[0]!r} with {POOL[1]} slots")

        say("== scheduler, dag-processor, triggerer, api-server (CeleryExecutor)")
        for name in COMPONENTS:
            argv = [AIRFLOW, name]
            if name == "api-server":
                argv += ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
            proc = self.processes.start(name, argv, self.env)
            say(f"   {name}: pid {proc.pid}")
        self.api = AirflowApi(self.env["AIRFLOW__API__BASE_URL"])
        started = time.monotonic()
        wait_until("every component to report healthy", self._healthy, timeout=150, interval=1.0)
        say(f"   all healthy after {time.monotonic() - started:.1f} s")
        password_file = self.home / "simple_auth_manager_passwords.json.generated"
        self.api.login(ADMIN, json.loads(password_file.read_text())[ADMIN])

    def _start_services(self) -> int:
        """Redis and moto (with the ledger's bucket); returns Redis's port."""
        say("== Redis (Celery broker)")
        redis_port = free_port()
        argv = [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.services.start("redis", argv, dict(os.environ))
        wait_until("redis to answer PING", lambda: _redis_ping(redis_port), 30)
        say(f"   127.0.0.1:{redis_port}")

        say("== moto_server (S3-compatible store for the send ledger)")
        moto_port = free_port()
        no_aws = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.services.start(
            "moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)], no_aws
        )
        self.s3_url = f"http://127.0.0.1:{moto_port}"
        wait_until(
            "moto to create the bucket", lambda: requests.put(f"{self.s3_url}/{BUCKET}", timeout=5).ok, 60
        )
        say(f"   {self.s3_url}, bucket {BUCKET}")
        return redis_port

    def _start_postgres(self) -> str:
        say("== PostgreSQL (throw-away cluster)")
        pg_port = free_port()
        self.postgres_started = True
        result = subprocess.run(  # noqa: S603 (our script, fixed argv)
            [str(POSTGRES_SH), "start", str(self.pgdir), str(pg_port)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if result.returncode:
            raise CheckFailed(f"PostgreSQL did not start:\n{result.stderr}")
        say(f"   listening on 127.0.0.1:{pg_port}")
        return result.stdout.strip().splitlines()[-1]

    def _start_emulator(self) -> str:
        say("== iSendPro emulator")
        ready = self.work / "emulator.url"
        emulator_argv = [sys.executable, "-m", "airflow_provider_isendpro.testing", "--port", "0"]
        emulator_argv += ["--ready-file", str(ready), "--api-key", API_KEY, "--credit", str(CREDIT)]
        emulator = self.processes.start("emulator", emulator_argv, dict(os.environ))
        base_url: str = wait_until(
            "the emulator",
            lambda: emulator.poll() is None and ready.exists() and ready.read_text().strip(),
            30,
        )
        self.emulator = Emulator(base_url.removesuffix("/cgi-bin"))
        say(f"   {base_url}")
        return base_url

    def _environment(self, base_url: str, sql_alchemy_conn: str, redis_port: int) -> dict[str, str]:
        """Every component's environment; workers add their own home and the ledger settings."""
        self.api_port = free_port()
        api_url = f"http://127.0.0.1:{self.api_port}"
        # Short timeouts: a request's bound (fencing) is 4 x 1 s connect + 3.5 s backoff + 8 s read.
        connection = {"conn_type": "isendpro", "host": base_url, "password": API_KEY,
                      "extra": {"connect_timeout": 1, "read_timeout": 8}}  # fmt: skip
        # The ledger's only AWS credentials: no AWS_* variable reaches any component.
        aws = {"conn_type": "aws", "login": "e2e-fake-access-key", "password": "e2e-fake-secret-key",
               "extra": {"endpoint_url": self.s3_url, "region_name": "us-east-1"}}  # fmt: skip
        dropped = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(dropped) and k != "AIRFLOW_HOME"}
        return {
            **inherited,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(self.pylib),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "isendpro_e2e_host.hostname",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sql_alchemy_conn,
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW_CONN_ISENDPRO_DEFAULT": json.dumps(connection),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
        }

    # --- workers -----------------------------------------------------------------------------------
    def worker_home(self, worker: str) -> Path:
        return self.work / worker

    def start_workers(self, *, s3_ledger: bool) -> None:
        for worker in WORKERS:
            self.start_worker(worker, s3_ledger=s3_ledger)
        for worker in WORKERS:
            log = self.workers.log(worker)
            wait_until(
                f"celery worker {worker} to be ready", lambda log=log: b" ready." in log.read_bytes(), 90
            )
        say(f"   workers ready ({'S3 ledger' if s3_ledger else 'no [isendpro] ledger_path'})")

    def start_worker(self, worker: str, *, s3_ledger: bool) -> None:
        home = self.worker_home(worker)
        home.mkdir(exist_ok=True)
        env = {**self.env, "AIRFLOW_HOME": str(home), "ISENDPRO_E2E_WORKER": worker}
        if s3_ledger:
            env["AIRFLOW__ISENDPRO__LEDGER_PATH"] = self.ledger_root
            env["AIRFLOW__ISENDPRO__LEDGER_CONN_ID"] = "aws_default"
        with contextlib.suppress(FileNotFoundError):
            self.workers.log(worker).unlink()  # "ready." must come from this start
        argv = [AIRFLOW, "celery", "worker", "--concurrency", "1", "--celery-hostname", f"{worker}@%h"]
        argv += ["--skip-serve-logs", "--without-gossip", "--without-mingle"]
        proc = self.workers.start(worker, argv, env)
        say(f"   worker {worker}: pid {proc.pid}, AIRFLOW_HOME {home}")

    def tree(self, worker: str) -> list[int]:
        """The worker's main process and every live descendant (Celery and Airflow retitle their processes,
        which hides their environment: the process tree is what tells them apart)."""
        proc = self.workers.procs.get(worker)
        if proc is None:
            return []
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(stat.parent.name))
        found, todo = [], [proc.pid]
        while todo:
            pid = todo.pop()
            if alive(pid):
                found.append(pid)
            todo += children.get(pid, [])
        self.seen.update(found)
        return found

    def stop_worker(self, worker: str) -> None:
        snapshot = self.tree(worker)
        self.workers.stop(worker, grace=20)
        for pid in snapshot:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def kill_machine(self, worker: str) -> list[int]:
        """SIGKILL to every process of ``worker`` (its task process included): a machine lost."""
        killed: set[int] = set()
        for _ in range(5):
            pids = [p for p in self.tree(worker) if p not in killed]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed.update(pids)
        self.workers.procs[worker].wait(timeout=10)
        return sorted(killed)

    def kill_worker_group(self, worker: str) -> list[int]:
        """SIGKILL to the worker's process group only; returns what survives (its task process, which
        Airflow runs in a process group of its own)."""
        snapshot = self.tree(worker)
        proc = self.workers.procs[worker]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(1.0)  # the group's processes die with it; the task process's own group lives on
        return [p for p in snapshot if alive(p)]

    # --- stop --------------------------------------------------------------------------------------
    def stop(self) -> list[int]:
        say("== stopping workers, redis, moto")
        for worker in WORKERS:
            with contextlib.suppress(Exception):
                self.stop_worker(worker)
        for name in ("redis", "moto"):
            with contextlib.suppress(Exception):
                self.services.stop(name, grace=10)
        leftovers = super().stop()
        for pid in sorted(self.seen):
            if alive(pid):
                leftovers.append(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for name in ("redis", "moto"):
            proc = self.services.procs.get(name)
            if proc is not None and alive(proc.pid):
                leftovers.append(proc.pid)
        return leftovers


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


# ----------------------------------------------------------------------------------------------------
# Scenarios


def expected_sms(count: int) -> tuple[Sms, ...]:
    return tuple(Sms(f"0612{400000 + n:06d}", f"Bonjour Client {n}, ") for n in range(count))


@dataclass
class Row:
    label: str
    recipients: int
    received: int = 0
    duplicates: int = 0
    in_doubt: int | str = "-"
    state: str = "not run"
    seconds: float = 0.0


class CeleryRunner(Runner):
    """``e2e/run.py``'s runner, with an action run at each poll of a run (to kill a worker)."""

    deployment: CeleryDeployment

    def __init__(self, deployment: CeleryDeployment, checks: Checks) -> None:
        super().__init__(deployment, checks)
        self.action: Any = None

    def _follow(self, outcome: Outcome, gate: Any) -> None:
        super()._follow(outcome, gate)
        if self.action is not None:
            self.action(outcome)

    def send_ti(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return next(t for t in self.api.task_instances(dag_id, run_id) if t["task_id"] == "send")

    def xcom(self, dag_id: str, run_id: str, key: str, task_id: str = "send") -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        value = self.api.get(path)["value"]
        return json.loads(value) if isinstance(value, str) else value

    def row(self, label: str, recipients: int, outcome: Outcome, started: float, in_doubt: Any = "-") -> Row:
        pairs = Counter((s["tel"], s["text"]) for s in outcome.sms)
        return Row(
            label, recipients, len(outcome.sms), sum(n - 1 for n in pairs.values()), in_doubt, outcome.state,
            time.monotonic() - started,
        )  # fmt: skip


def scenario_local_ledger(runner: CeleryRunner, rows: list[Row]) -> None:
    started = time.monotonic()
    dag_id = "isendpro_celery_local_ledger"
    outcome = runner.run(Scenario(
        "local ledger under CeleryExecutor", dag_id, state="failed", task_states={"send": "failed"}, sms=(),
        timeout=120,
    ))  # fmt: skip
    logs = sorted(runner.deployment.work.glob(f"w*/logs/dag_id={dag_id}/**/*.log"))
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    runner.checks.record(
        "SendSmsOperator refuses to run: its send ledger is on this worker's local disk" in text
        and "[core] executor = CeleryExecutor" in text
        and "Point [isendpro] ledger_path at storage every worker reaches" in text,
        "local ledger: the task log names [isendpro] ledger_path and the executor",
        f"{len(logs)} task logs; {tail(logs[-1]) if logs else 'none'}",
    )
    rows.append(runner.row("local ledger refused", RECIPIENTS, outcome, started))


def scenario_machine_lost(runner: CeleryRunner, rows: list[Row], *, warn: bool) -> None:
    started = time.monotonic()
    dag_id = "isendpro_celery_kill_warn" if warn else "isendpro_celery_kill"
    emulator = runner.emulator
    emulator.arm(fault="hang_after_accept", path="/smsmulti", after=3, delay=60)  # batch 4: held
    before = emulator.sent_count()
    seen: dict[str, Any] = {}

    def kill(outcome: Outcome) -> None:
        if seen or emulator.sent_count() - before < 4 * BATCH:
            return
        host = str(runner.send_ti(dag_id, outcome.run_id).get("hostname") or "")
        worker = host.split("@", maxsplit=1)[0]
        if worker not in WORKERS:
            return
        seen.update(worker=worker, host=host, killed=runner.deployment.kill_machine(worker))
        emulator._call("POST", "release")
        say(f"   batch 4 held: SIGKILL to every process of {worker} ({len(seen['killed'])} processes)")

    runner.action = kill
    label = f"machine lost ({'on_unknown=warn' if warn else 'default'})"
    try:
        outcome = runner.run(Scenario(
            label, dag_id, state="success" if warn else "failed",
            task_states={"send": "success" if warn else "failed"}, sms=expected_sms(RECIPIENTS), timeout=240,
        ))  # fmt: skip
    finally:
        runner.action = None
        emulator.clear_faults()
        if seen:
            runner.deployment.start_worker(seen["worker"], s3_ledger=True)
    ti = runner.send_ti(dag_id, outcome.run_id)
    runner.checks.record(bool(seen), f"{label}: the worker running the task was killed mid-request")
    # warn: try 2 succeeds; default: try 2 fails on the batch in doubt, and so does try 3 (the truth
    # over the whole send, not the last try)
    tries = 2 if warn else 3
    runner.checks.record(
        ti["try_number"] == tries and bool(seen) and ti.get("hostname") != seen.get("host"),
        f"{label}: {tries - 1} retries, on the other worker ({seen.get('host')} -> {ti.get('hostname')})",
        f"try {ti['try_number']} on {ti.get('hostname')}",
    )
    result = runner.xcom(dag_id, outcome.run_id, "return_value" if warn else "send_report")
    counts = result["counts"]
    runner.checks.record(
        counts["unknown"] == BATCH
        and result["batches"]["unknown"] == 1
        and sum(counts.values()) == result["input"] == RECIPIENTS
        and sum(result["batches"].values()) == RECIPIENTS // BATCH,
        f"{label}: batch 4 in doubt ({BATCH} unknown), every recipient and batch in exactly one bucket",
        f"counts {counts}, batches {result['batches']}",
    )
    if not warn:
        runner.checks.record(
            (result.get("error") or {}).get("type") == "IsendproUnknownOutcomeError",
            f"{label}: failed with IsendproUnknownOutcomeError (on_unknown='fail')",
            str(result.get("error")),
        )
    rows.append(runner.row(label, RECIPIENTS, outcome, started, counts["unknown"]))


def scenario_orphan(runner: CeleryRunner, rows: list[Row]) -> None:
    started = time.monotonic()
    dag_id = "isendpro_celery_zombie"
    emulator = runner.emulator
    emulator.arm(fault="slow", path="/smsmulti", times=None, delay=1.5)
    before = emulator.sent_count()
    seen: dict[str, Any] = {}

    def kill(outcome: Outcome) -> None:
        if seen or emulator.sent_count() - before < 3 * ZOMBIE_BATCH:
            return
        host = str(runner.send_ti(dag_id, outcome.run_id).get("hostname") or "")
        worker = host.split("@", maxsplit=1)[0]
        if worker not in WORKERS:
            return
        seen.update(worker=worker, host=host, survivors=runner.deployment.kill_worker_group(worker))
        say(f"   SIGKILL to {worker}'s process group; still running: {seen['survivors']}")

    runner.action = kill
    label = "task process left running"
    try:
        outcome = runner.run(Scenario(label, dag_id, sms=expected_sms(ZOMBIE_RECIPIENTS), timeout=300))
    finally:
        runner.action = None
        emulator.clear_faults()
    survivors = seen.get("survivors") or []
    runner.checks.record(bool(survivors), f"{label}: the task process outlived its worker", str(seen))
    with contextlib.suppress(CheckFailed):
        wait_until("the orphan task process to exit", lambda: not any(alive(p) for p in survivors), 60)
    runner.checks.record(
        not any(alive(p) for p in survivors),
        f"{label}: the orphan task process stopped by itself",
        f"still alive: {[p for p in survivors if alive(p)]}",
    )
    notes = claim_notes(runner.deployment, dag_id)
    first = notes.get(1, "")
    runner.checks.record(
        first.startswith("IsendproSupersededError: superseded by try 2"),
        f"{label}: try 1's last claim record says it stopped superseded by try 2",
        f"claim notes: {notes}",
    )
    if seen:
        runner.deployment.start_worker(seen["worker"], s3_ledger=True)
    result = runner.xcom(dag_id, outcome.run_id, "return_value")
    counts = result["counts"]
    runner.checks.record(
        sum(counts.values()) == result["input"] == ZOMBIE_RECIPIENTS
        and counts["already_sent"] + counts["sent"] == ZOMBIE_RECIPIENTS,
        f"{label}: try 2's report: {counts['already_sent']} sent by try 1, {counts['sent']} by try 2",
        f"counts {counts}",
    )
    rows.append(runner.row(label, ZOMBIE_RECIPIENTS, outcome, started, counts["unknown"]))


def claim_notes(deployment: CeleryDeployment, dag_id: str) -> dict[int, str]:
    """The note of each try's last claim record (the ledger's ``_claims`` folder, read from S3)."""
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=deployment.s3_url, region_name="us-east-1",
        aws_access_key_id="e2e-fake-access-key", aws_secret_access_key="e2e-fake-secret-key",  # noqa: S106
    )  # fmt: skip
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"ledger/{dag_id}/")
    latest: dict[int, tuple[int, str]] = {}
    for item in listing.get("Contents", []):
        key = item["Key"]
        if "/_claims/" not in key:
            continue
        attempt, seq = (int(part.lstrip("t")) for part in key.rsplit("/", 1)[1].split(".")[:2])
        if seq >= latest.get(attempt, (-1, ""))[0]:
            latest[attempt] = (seq, key)
    notes = {}
    for attempt, (_, key) in latest.items():
        record = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        notes[attempt] = str(record.get("note", ""))
    return notes


def scenario_bulk(runner: CeleryRunner, rows: list[Row]) -> None:
    started = time.monotonic()
    outcome = runner.run(Scenario(
        "isendpro_bulk_mapped (2 workers)", "isendpro_bulk_mapped",
        conf={"demo_size": BULK_SIZE, "batch_size": BULK_BATCH},
        sms=tuple(Sms(tel, "Votre colis est arriv") for tel in BULK_NUMBERS), pool=("isendpro", int(POOL[1])),
        timeout=240,
    ))  # fmt: skip
    hosts = {
        str(ti.get("hostname") or "").split("@")[0]
        for ti in outcome.task_instances
        if ti["task_id"] in ("prepare_batches", "send_batch")
    }
    runner.checks.record(hosts == set(WORKERS), f"bulk: its tasks ran on both workers ({sorted(hosts)})")
    rows.append(runner.row("mapped bulk example", BULK_SIZE, outcome, started))


def table(rows: list[Row]) -> None:
    say("")
    header = f"{'scenario':<36} {'recipients':>10} {'SMS received':>12} {'duplicates':>10} {'in doubt':>8}  "
    header += f"{'final state':<11} {'seconds':>7}"
    say(header)
    say("-" * len(header))
    for r in rows:
        say(
            f"{r.label:<36} {r.recipients:>10} {r.received:>12} {r.duplicates:>10} {r.in_doubt!s:>8}  "
            f"{r.state:<11} {r.seconds:>7.0f}"
        )


def exercise(deployment: CeleryDeployment, checks: Checks, rows: list[Row]) -> None:
    runner = CeleryRunner(deployment, checks)
    say("== DAGs")
    runner.wait_for_dags({
        "isendpro_celery_kill", "isendpro_celery_kill_warn", "isendpro_celery_zombie",
        "isendpro_celery_local_ledger", "isendpro_bulk_mapped",
    })  # fmt: skip
    say("== workers without [isendpro] ledger_path")
    deployment.start_workers(s3_ledger=False)
    scenario_local_ledger(runner, rows)
    for worker in WORKERS:
        deployment.stop_worker(worker)
    say("== workers with [isendpro] ledger_path = s3://… and ledger_conn_id = aws_default")
    deployment.start_workers(s3_ledger=True)
    scenario_machine_lost(runner, rows, warn=False)
    scenario_machine_lost(runner, rows, warn=True)
    scenario_orphan(runner, rows)
    scenario_bulk(runner, rows)
    total, accounted = runner.emulator.sent_count(), sum(r.received for r in rows)
    checks.record(total == accounted, f"no SMS outside the runs ({total} received, {accounted} accounted)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e/run_celery.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--budget", type=float, default=BUDGET, help="give up after this many seconds")
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="isendpro-e2e-celery-"))
    dags = work / "dags"
    dags.mkdir()
    shutil.copy(REPO / "e2e" / "celery_dags" / "isendpro_celery_e2e.py", dags)
    shutil.copy(REPO / "dags_examples" / "example_isendpro_bulk_mapped.py", dags)
    deployment = CeleryDeployment(work, dags)
    checks = Checks()
    rows: list[Row] = []

    def _interrupted(signum: int, frame: FrameType | None) -> None:
        raise CheckFailed(
            f"the run went over its {args.budget:g} s budget" if signum == signal.SIGALRM else "interrupted"
        )

    signal.signal(signal.SIGALRM, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    signal.alarm(int(args.budget))
    say(f"e2e-celery: working directory {work}")
    try:
        deployment.start()
        exercise(deployment, checks, rows)
    except (CheckFailed, requests.RequestException) as exc:
        checks.record(False, "the deployment ran to the end", str(exc))
    except Exception as exc:  # a bug here: still stop everything and say what happened
        traceback.print_exc()
        checks.record(False, "the deployment ran to the end", repr(exc))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        leftovers = deployment.stop()
        checks.record(not leftovers, "nothing left running after the stop", f"killed {leftovers}")

    table(rows)
    failed = checks.failed
    say("")
    say(
        f"e2e-celery: {len(checks.results) - len(failed)}/{len(checks.results)} checks passed; "
        f"total time {time.monotonic() - started:.0f} s"
    )
    if failed:
        say("FAILED: " + "; ".join(failed))
        say(f"logs kept in {work}")
    elif args.keep:
        say(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
