"""``make e2e``: the example DAGs on a real Airflow deployment, checked end to end.

What it starts, all on loopback, all in one temporary directory, and stops again however it ends:

* a throw-away PostgreSQL cluster (``e2e/postgres.sh``) as Airflow's metadata database;
* the iSendPro emulator (``python -m airflow_provider_isendpro.testing``) with a distinctive fake key;
* an SMTP server (``e2e/smtp_sink.py``, in this process), the deployment's ``smtp_default`` connection;
* ``airflow db migrate``, then the scheduler (LocalExecutor), dag-processor, triggerer and API server as
  four separate processes, each in its own process group, so each is stopped by its PID.

Then it triggers the example DAGs through the REST API (``/api/v2``, JWT from ``POST /auth/token`` with the
simple auth manager's generated password), one run at a time so that every SMS the emulator receives
belongs to one run, and checks:

* each run ends in the state its scenario expects, task by task (the alerting DAG fails at ``load`` on
  purpose, and both of its alert SMS arrive);
* the campaign's ``CreditSensor`` is seen ``deferred`` (the credit is 0 when it first checks), and
  completes through the triggerer once the credit is topped up;
* the emulator received exactly the expected SMS, each once (no duplicate (tel, text) in a run), and
  nothing outside the runs;
* an alert iSendPro cannot take goes out by e-mail: with the emulator's credit at 0, a task failing on
  both tries (``e2e/dags/``, copied beside the examples) is alerted by ``IsendproNotifier``, refused with
  code 10 each time, and its ``SmtpNotifier`` fallback e-mails once per failed try (the SMTP server
  receives exactly those 2 e-mails, with the task, the try and the error);
* the mapped bulk send never ran more tasks at once than the ``isendpro`` pool has slots;
* delivery receipts close the loop (issue 22): ``isendpro_delivery_receipts`` sends to 200 numbers, the
  emulator posts one receipt per SMS (a mix of delivered, failed and expired) to the API server's receiver
  (``/isendpro/dlr/<[isendpro] dlr_secret>``) once ``wait_for_receipts`` is seen deferred, and the sensor
  finishes in the triggerer with exactly the counts and numbers the emulator posted; no log holds the
  secret;
* no log file (task logs, trigger logs, component logs), rendered template field or XCom value holds the
  API key;
* the API server serves the ``isendpro`` connection form (relabelled fields and the extra fields);
* nothing it started is still running after the stop.

Prints one line per check, a summary table (DAG, state, duration, SMS received) and the total time.
Exit status 0 only if every check passed. ``--keep`` keeps the temporary directory (logs, Airflow home).
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

import requests
from smtp_sink import Mail, SmtpSink

REPO = Path(__file__).resolve().parent.parent
POSTGRES_SH = REPO / "e2e" / "postgres.sh"
VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")

#: Fake, but distinctive: a grep of every log file for it must find nothing.
API_KEY = "E2E-fake-keyid-5b7d1c"
POOL = ("isendpro", "2", "iSendPro API calls")
#: Starting credit of the emulated account (EUR): enough for every example (the bulk one sends 2500 SMS).
CREDIT = 1000.0
ADMIN = "admin"

#: Whole-run budget (seconds): the driver gives up, cleans up and fails past it (the target must stay
#: under 10 minutes on a 2-core machine).
BUDGET = 480.0
#: Components, in the order they are stopped.
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
#: Delay the emulator adds to the trigger's first ``/credit`` request, so that the credit can be topped up
#: after the sensor is seen deferred and before the trigger reads it (see ``CreditGate``).
TRIGGER_CREDIT_DELAY = 10.0
TERMINAL = {"success", "failed"}


class CheckFailed(Exception):
    """A precondition for going on failed (a component died, a wait ran out)."""


# ----------------------------------------------------------------------------------------------------
# Small helpers


def say(message: str) -> None:
    print(message, flush=True)


def wait_until(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``probe`` until it returns something truthy; ``CheckFailed`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (requests.RequestException, ValueError, KeyError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise CheckFailed(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


def run_tool(argv: list[str], env: dict[str, str], log: Path, timeout: float) -> None:
    """Run a command to completion (bounded); its output goes to ``log``; non-zero exit fails."""
    try:
        with log.open("ab") as out:
            code = subprocess.run(  # noqa: S603 (fixed argv of our own tools, no shell)
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            ).returncode
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{' '.join(argv[:3])} did not finish within {timeout:g} s; log {log}") from exc
    if code:
        raise CheckFailed(f"{' '.join(argv[:3])} exited with {code}; log {log}:\n{tail(log)}")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# ----------------------------------------------------------------------------------------------------
# Processes


class Processes:
    """Long-running processes, each started in a new session (its own process group)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def assert_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise CheckFailed(
                    f"{name} exited with {proc.returncode}; its log ends:\n{tail(self.log(name))}"
                )

    def stop(self, name: str, grace: float = 30.0) -> None:
        """SIGTERM to the PID, a bounded wait, then SIGKILL; then whatever is left of its process group
        (LocalExecutor workers, task supervisors, log servers) gets the same treatment."""
        proc = self.procs.get(name)
        if proc is None:
            return
        if proc.poll() is None:
            say(f"   stopping {name} (pid {proc.pid})")
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                say(f"   {name} still running after {grace:g} s: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        stop_group(proc.pid, name)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an exited child that PID 1 has yet to reap)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    """Some live (non-zombie) process is in process group ``pgid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":  # fields after "(comm)": state, ppid, pgrp
            return True
    return False


def stop_group(pgid: int, name: str, grace: float = 10.0) -> None:
    if not group_alive(pgid):
        return
    say(f"   {name}: SIGTERM to the processes left in its group {pgid}")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if group_alive(pgid):
        say(f"   {name}: SIGKILL to group {pgid}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def processes_with_env(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds ``marker`` (our unique AIRFLOW_HOME)."""
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# ----------------------------------------------------------------------------------------------------
# The emulator and the Airflow REST API


class Emulator:
    def __init__(self, root_url: str) -> None:
        self.root = root_url
        self.http = requests.Session()

    def _call(self, method: str, name: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.root}/_emulator/{name}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def sent(self, offset: int = 0) -> list[dict[str, Any]]:
        return list(self._call("GET", "sent", params={"offset": offset})["sent"])

    def sent_count(self) -> int:
        return int(self._call("GET", "sent", params={"limit": 0})["count"])

    def credit(self) -> float:
        return float(self._call("GET", "state")["credit"])

    def set_credit(self, euros: float) -> None:
        self._call("POST", "credit", json={"credit": euros})

    def arm(self, **fault: Any) -> None:
        self._call("POST", "faults", json=fault)

    def pending_faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def release_hangs(self) -> None:
        """End every request the emulator holds (a held request's connection closes with no answer)."""
        self._call("POST", "release")

    def configure(self, **fields: Any) -> None:
        self._call("POST", "config", json=fields)

    def dlr(self) -> dict[str, Any]:
        """The delivery-receipt callbacks made: summary and every attempt."""
        return dict(self._call("GET", "dlr"))

    def release_dlr(self) -> int:
        """Every receipt not yet due is due now (queued callbacks go at once)."""
        return int(self._call("POST", "dlr/release")["released"])


class AirflowApi:
    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()

    def health(self) -> dict[str, Any]:
        response = self.http.get(f"{self.base}/api/v2/monitor/health", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def login(self, username: str, password: str) -> None:
        response = self.http.post(
            f"{self.base}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code not in (200, 201):
            raise CheckFailed(f"POST /auth/token answered {response.status_code}: {response.text[:200]}")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(f"{self.base}{path}", params=params or None, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(f"{self.base}{path}", json=body, timeout=30)
        if response.status_code >= 400:
            raise CheckFailed(f"POST {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)
        return list(data["task_instances"])


# ----------------------------------------------------------------------------------------------------
# What each example DAG should do


@dataclass(frozen=True)
class Sms:
    """An SMS the emulator must receive: to ``tel`` (national form), ``text`` containing ``fragment``."""

    tel: str
    fragment: str = ""
    date_envoi: str | None = None
    """For a scheduled send: a fragment of iSendPro's ``date_envoi`` (delivery time)."""


@dataclass(frozen=True)
class Scenario:
    """One triggered run and what it must end with.

    ``task_states``: expected final state per task id (every map index); tasks not listed must succeed.
    ``sms``: the SMS the emulator must receive for this run, each exactly once; ``None`` for a DAG the
    driver has no scenario for (then only duplicates are checked). ``deferred_task`` must be seen
    ``deferred`` and then complete through the triggerer. ``pool``: (pool, slots): the run's tasks in
    that pool never ran more than ``slots`` at a time. ``files``: globs (in the temporary directory)
    that must match a file after the run.
    """

    label: str
    dag_id: str
    conf: dict[str, Any] = field(default_factory=dict)
    state: str = "success"
    task_states: dict[str, str] = field(default_factory=dict)
    sms: tuple[Sms, ...] | None = ()
    deferred_task: str | None = None
    #: What holds ``deferred_task`` back until it is seen deferred (a key of ``GATES``), and what its
    #: trigger log must then say.
    gate: str = "credit"
    trigger_log: str = "reached the threshold"
    pool: tuple[str, int] | None = None
    files: tuple[str, ...] = ()
    timeout: float = 150.0


#: DAGs of the e2e run only (e2e/dags/), beside the examples: the alert fallback's.
E2E_DAGS = REPO / "e2e" / "dags"
FALLBACK_DAG = "isendpro_e2e_alert_fallback"
#: The delivery-receipts scenario: the example DAG for 200 numbers; the receiver's secret ([isendpro]
#: dlr_secret, distinctive: no log may hold it); the emulator's statut mix (drawn per tracker).
RECEIPTS_DAG, RECEIPTS_COUNT = "isendpro_delivery_receipts", 200
DLR_SECRET = f"E2E-dlr-secret-{secrets.token_urlsafe(18)}"
DLR_MIX = {"0": 0.9, "1": 0.07, "2": 0.03}
#: Over the mix, so that both failures always occur: one failed and one expired number.
DLR_PINNED = {"0612400007": "1", "0612400011": "2"}
#: The receipts' delay while held (see ``ReceiptGate``): far past the sensor's first check in the worker.
DLR_HOLD = 900.0
ONCALL_MAIL = "oncall@example.com"

#: What ``isendpro_bulk_mapped`` makes of its demo list: 2500 numbers from 06 12 30 00 00 on.
BULK_NUMBERS = tuple(f"0612{300000 + n:06d}" for n in range(2500))


def scenarios() -> list[Scenario]:
    """The example DAGs, in the order they run (one at a time)."""
    return [
        Scenario(
            "isendpro_credit_monitoring (credit fine)",
            "isendpro_credit_monitoring",
            task_states={"alert_on_call": "skipped"},
        ),
        Scenario(
            "isendpro_credit_monitoring (credit low)",
            "isendpro_credit_monitoring",
            conf={"min_credit": 5000},
            sms=(Sms("0612345678", "iSendPro credit low: "),),
        ),
        Scenario(
            "isendpro_scheduled_send",
            "isendpro_scheduled_send",
            conf={"send_on": "2030-01-15", "local_time": "09:30"},
            sms=(
                Sms("0612345678", "votre technicien passera", date_envoi="2030-01-15 09:30"),
                Sms("0612345679", "votre technicien passera", date_envoi="2030-01-15 09:30"),
            ),
        ),
        Scenario(
            "isendpro_campaign",
            "isendpro_campaign",
            conf={"report_after_hours": 0, "report_dir": "{work}/reports"},
            sms=(
                Sms("0612345601", "Bonjour Alice, rappel de votre RDV le 12/03"),
                Sms("0612345602", "Bonjour Bruno, rappel de votre RDV le 12/03"),
                Sms("0612345603", "Bonjour Chlo"),
            ),
            deferred_task="wait_for_credit",
            files=("reports/campagne-*.zip",),
        ),
        Scenario(
            "isendpro_mapped_reminders (2 map indexes, personalised)",
            "isendpro_mapped_reminders",
            sms=(
                Sms("0612345621", "Bonjour Inès, RDV demain à 10h30, agence Lyon."),
                Sms("0612345622", "Bonjour Marc, RDV demain à 14h00, agence Lyon."),
                Sms("0612345623", "Bonjour Sofia, RDV demain à 09h15, agence Nantes."),
            ),
        ),
        Scenario(
            "isendpro_bulk_mapped",
            "isendpro_bulk_mapped",
            sms=tuple(Sms(tel, "Votre colis est arriv") for tel in BULK_NUMBERS),
            pool=("isendpro", int(POOL[1])),
        ),
        Scenario(
            # 50 mapped tasks fail at once on real workers: one alert, then the digest of the other 49.
            "isendpro_alert_storm (50 mapped failures)",
            "isendpro_alert_storm",
            state="failed",
            task_states={"load": "failed"},
            sms=(
                Sms("0612345680", "[Airflow] isendpro_alert_storm.load["),
                Sms("0612345680", "[Airflow] alert digest, DAG isendpro_alert_storm: (49 held back since "),
            ),
        ),
        Scenario(
            "isendpro_alerting",
            "isendpro_alerting",
            state="failed",
            task_states={"load": "failed"},
            sms=(
                Sms("0612345678", "[Airflow] isendpro_alerting.load failed"),  # task-level notifier
                Sms("0612345679", "ETL isendpro_alerting failed"),  # DAG-level notifier (dag-processor)
            ),
        ),
    ]


@dataclass
class Outcome:
    scenario: Scenario
    run_id: str = ""
    state: str = "not run"
    duration: float | None = None
    sms: list[dict[str, Any]] = field(default_factory=list)
    states_seen: dict[str, list[str]] = field(default_factory=dict)
    task_instances: list[dict[str, Any]] = field(default_factory=list)


class Checks:
    def __init__(self) -> None:
        self.results: list[tuple[bool, str]] = []

    def record(self, ok: bool, what: str, detail: str = "") -> bool:
        self.results.append((ok, what))
        say(f"  [{'PASS' if ok else 'FAIL'}] {what}" + (f": {detail}" if detail and not ok else ""))
        return ok

    @property
    def failed(self) -> list[str]:
        return [what for ok, what in self.results if not ok]


# ----------------------------------------------------------------------------------------------------
# The deployment


class Deployment:
    def __init__(self, work: Path, dags_folder: Path) -> None:
        self.work = work
        self.dags_folder = dags_folder
        self.home = work / "airflow"
        self.logs = work / "logs"
        self.pgdir = Path(tempfile.mkdtemp(prefix="isendpro-e2e-pg-"))
        self.processes = Processes(self.logs)
        self.env: dict[str, str] = {}
        self.api_port = 0
        self.emulator: Emulator | None = None
        self.api: AirflowApi | None = None
        self.postgres_started = False
        #: The receiving side of the alert fallback (``smtp_default`` points at it).
        self.smtp = SmtpSink()

    #: The isendpro connection's extras: the LocalExecutor deployment keeps the defaults' order of size.
    CONNECTION_EXTRA: ClassVar[dict[str, float]] = {"connect_timeout": 5, "read_timeout": 30}
    #: Said where the components start.
    EXECUTOR_NOTE = ""

    # --- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.home.mkdir(parents=True)
        self.logs.mkdir()
        self._start_services()
        sql_alchemy_conn = self._start_postgres()
        base_url = self._start_emulator()
        self.smtp.start()
        say(f"== SMTP server (e2e/smtp_sink.py): 127.0.0.1:{self.smtp.port}, the smtp_default connection")
        self.env = self._environment(base_url, sql_alchemy_conn)
        self._start_airflow()

    def _start_services(self) -> None:
        """What a deployment needs besides PostgreSQL and the emulator (nothing here)."""

    def _start_postgres(self) -> str:
        """A throw-away PostgreSQL cluster; returns its SQLAlchemy URL."""
        say("== PostgreSQL (throw-away cluster)")
        pg_port = free_port()
        self.postgres_started = True
        result = subprocess.run(  # noqa: S603 (our script, fixed argv)
            [str(POSTGRES_SH), "start", str(self.pgdir), str(pg_port)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if result.returncode:
            raise CheckFailed(f"PostgreSQL did not start:\n{result.stderr}")
        say(f"   listening on 127.0.0.1:{pg_port} (data in {self.pgdir})")
        return result.stdout.strip().splitlines()[-1]

    def _start_emulator(self) -> str:
        """The iSendPro emulator on a free port; returns its base URL (``.../cgi-bin``)."""
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
        if emulator.poll() is not None:
            raise CheckFailed("the emulator exited")
        self.emulator = Emulator(base_url.removesuffix("/cgi-bin"))
        say(f"   {base_url}")
        return base_url

    def _environment(self, base_url: str, sql_alchemy_conn: str) -> dict[str, str]:
        """Every component's environment: nothing Airflow- or AWS-related inherited from this shell."""
        self.api_port = free_port()
        api_url = f"http://127.0.0.1:{self.api_port}"
        connection = {
            "conn_type": "isendpro",
            "host": base_url,
            "password": API_KEY,
            "extra": self.CONNECTION_EXTRA,
        }
        dropped = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(dropped) and k != "AIRFLOW_HOME"}
        return {
            **inherited,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__ISENDPRO__LEDGER_PATH": str(self.work / "ledger"),
            "AIRFLOW__ISENDPRO__DLR_SECRET": DLR_SECRET,
            "AIRFLOW_CONN_ISENDPRO_DEFAULT": json.dumps(connection),
            "AIRFLOW_CONN_SMTP_DEFAULT": self.smtp.connection(),
        }

    def _start_airflow(self) -> None:
        """Migrate the metadata DB, create the pool, start the components of ``COMPONENTS``, wait until
        they report healthy and log in to the REST API (``self.env`` is set)."""
        api_url = self.env["AIRFLOW__API__BASE_URL"]
        say("== airflow db migrate (PostgreSQL)")
        started = time.monotonic()
        run_tool([AIRFLOW, "db", "migrate"], self.env, self.logs / "db-migrate.log", timeout=240)
        say(f"   done in {time.monotonic() - started:.1f} s")
        run_tool([AIRFLOW, "pools", "set", *POOL], self.env, self.logs / "pools.log", timeout=60)
        say(f"   pool {POOL[0]!r} with {POOL[1]} slots")

        say(f"== scheduler, dag-processor, triggerer, api-server{self.EXECUTOR_NOTE}")
        for name in COMPONENTS:
            argv = [AIRFLOW, name]
            if name == "api-server":
                argv += ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
            proc = self.processes.start(name, argv, self.env)
            say(f"   {name}: pid {proc.pid}")
        self.api = AirflowApi(api_url)
        started = time.monotonic()
        wait_until("every component to report healthy", self._healthy, timeout=150, interval=1.0)
        say(f"   all healthy after {time.monotonic() - started:.1f} s ({api_url}/api/v2/monitor/health)")
        password_file = self.home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(password_file.read_text())[ADMIN]
        self.api.login(ADMIN, password)
        say(f"   logged in as {ADMIN!r} (JWT from POST /auth/token, password from {password_file.name})")

    def _healthy(self) -> bool:
        self.processes.assert_alive()
        assert self.api is not None
        health = self.api.health()
        return all((health.get(part) or {}).get("status") == "healthy" for part in (
            "metadatabase", "scheduler", "triggerer", "dag_processor"
        ))  # fmt: skip

    # --- stop --------------------------------------------------------------------------------------
    def stop(self) -> list[int]:
        """Stop everything started, in order; returns the PIDs of anything that survived."""
        say("== stopping")
        for name in (*COMPONENTS, "emulator"):
            try:
                self.processes.stop(name)
            except Exception as exc:  # keep stopping the others
                say(f"   could not stop {name}: {exc}")
        self.smtp.stop()
        leftovers = []
        if self.postgres_started:
            say("   stopping PostgreSQL (pg_ctl stop -m fast)")
            pid_file = self.pgdir / "data" / "postmaster.pid"
            postmaster = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(  # noqa: S603 (our script, fixed argv)
                    [str(POSTGRES_SH), "stop", str(self.pgdir)], timeout=60, check=False
                )
            with contextlib.suppress(OSError):
                shutil.copy(self.pgdir / "server.log", self.logs / "postgres.log")
            if postmaster and alive(postmaster):
                leftovers.append(postmaster)
        shutil.rmtree(self.pgdir, ignore_errors=True)
        leftovers += processes_with_env(f"AIRFLOW_HOME={self.home}")
        for pid in leftovers:
            say(f"   SIGKILL to leftover process {pid}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return leftovers


# ----------------------------------------------------------------------------------------------------
# Running the scenarios


class CreditGate:
    """Make the campaign's ``CreditSensor`` defer, observe it deferred, then let the triggerer finish it.

    The credit is set to 0, so the sensor's first check (in the worker) fails and the task defers. The
    emulator delays the next ``/credit`` request (the trigger's first check, in the triggerer) by
    ``TRIGGER_CREDIT_DELAY`` seconds before it reads the credit; once the task instance is seen
    ``deferred``, the credit is restored, so the trigger's first check succeeds whatever the timing of the
    triggerer. (The example polls every 10 minutes: a check that saw 0 would stall the run.)
    """

    NOTE = "emulator credit 0"

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.saved = emulator.credit()
        self.opened = False

    def close(self) -> None:
        self.emulator.set_credit(0)
        self.emulator.arm(fault="slow", path="/credit", after=1, times=1, delay=TRIGGER_CREDIT_DELAY)

    def open(self) -> None:
        if not self.opened:
            self.emulator.set_credit(self.saved)
            self.opened = True

    def reset(self) -> None:
        self.open()
        self.emulator.clear_faults()


class ReceiptGate:
    """Make the delivery sensor defer, observe it deferred, then let the receipts reach the receiver.

    The emulator holds each receipt ``DLR_HOLD`` seconds, so the sensor's first check (in the worker)
    finds none and the task defers; once it is seen ``deferred``, every receipt is released (due now) and
    posted to the API server, where the trigger, in the triggerer, reads them from the store.
    """

    NOTE = "delivery receipts held"

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.opened = False

    def close(self) -> None:
        self.emulator.configure(dlr_delay=DLR_HOLD)

    def open(self) -> None:
        if not self.opened:
            say(f"   {self.emulator.release_dlr()} receipts released")
            self.opened = True

    def reset(self) -> None:
        self.open()
        self.emulator.configure(dlr_delay=0.0)


GATES: dict[str, Callable[[Emulator], Any]] = {"credit": CreditGate, "receipts": ReceiptGate}


class Runner:
    def __init__(self, deployment: Deployment, checks: Checks) -> None:
        assert deployment.api is not None and deployment.emulator is not None
        self.api = deployment.api
        self.emulator = deployment.emulator
        self.deployment = deployment
        self.checks = checks

    def wait_for_dags(self, dag_ids: set[str]) -> set[str]:
        """Wait until every DAG file is parsed (a DAG or an import error for each); returns all DAG ids."""
        files = {
            str(path)
            for path in self.deployment.dags_folder.rglob("*.py")
            if all(word in path.read_bytes().lower() for word in (b"dag", b"airflow"))
        }

        def parsed() -> set[str] | None:
            self.deployment.processes.assert_alive()
            dags = self.api.get("/api/v2/dags", limit=1000)["dags"]
            errors = self.api.get("/api/v2/importErrors", limit=1000)["import_errors"]
            seen = {d["fileloc"] for d in dags} | {e["filename"] for e in errors}
            ids = {d["dag_id"] for d in dags}
            return ids if files <= seen and dag_ids <= ids else None

        started = time.monotonic()
        ids: set[str] = wait_until(
            f"the dag-processor to parse {len(files)} DAG files holding {', '.join(sorted(dag_ids))}",
            parsed,
            timeout=120,
        )
        say(f"   {len(ids)} DAGs parsed in {time.monotonic() - started:.1f} s: {', '.join(sorted(ids))}")
        errors = self.api.get("/api/v2/importErrors", limit=1000)["import_errors"]
        self.checks.record(
            not errors,
            "no DAG import errors",
            "; ".join(f"{e['filename']}: {e['stack_trace'][-300:]}" for e in errors),
        )
        paused = [d["dag_id"] for d in self.api.get("/api/v2/dags", limit=1000)["dags"] if d["is_paused"]]
        self.checks.record(not paused, "DAGs are unpaused at creation", f"paused: {paused}")
        return ids

    def check_connection_form(self) -> None:
        metas = self.api.get("/ui/connections/hook_meta")
        meta = next((m for m in metas if m.get("connection_type") == "isendpro"), None)
        if not self.checks.record(meta is not None, "the API server knows the 'isendpro' connection type"):
            return
        assert meta is not None
        standard = meta.get("standard_fields") or {}
        extra = meta.get("extra_fields") or {}
        problems = []
        if meta.get("hook_name") != "iSendPro SMS":
            problems.append(f"hook_name {meta.get('hook_name')!r}")
        for name, title in (("host", "API base URL"), ("password", "API key (keyid)")):
            if (standard.get(name) or {}).get("title") != title:
                problems.append(f"{name} label {(standard.get(name) or {}).get('title')!r} != {title!r}")
        for name in ("login", "port", "url_schema"):
            if not (standard.get(name) or {}).get("hidden"):
                problems.append(f"{name} not hidden")
        for name in ("sender", "connect_timeout", "read_timeout", "sandbox"):
            if name not in extra:
                problems.append(f"extra field {name!r} missing")
        self.checks.record(
            not problems,
            "connection form (GET /ui/connections/hook_meta): host 'API base URL', password "
            "'API key (keyid)', extra fields sender/connect_timeout/read_timeout/sandbox",
            "; ".join(problems),
        )

    def run(self, scenario: Scenario) -> Outcome:
        """Trigger one run, follow it to its end (bounded), then check it."""
        outcome = Outcome(scenario)
        conf = json.loads(json.dumps(scenario.conf).replace("{work}", str(self.deployment.work)))
        say(f"== {scenario.label}" + (f"  conf={json.dumps(conf)}" if conf else ""))
        sent_before = self.emulator.sent_count()
        gate = GATES[scenario.gate](self.emulator) if scenario.deferred_task else None
        try:
            if gate:
                gate.close()
                say(f"   {gate.NOTE} until {scenario.deferred_task} is seen deferred")
            stamp = datetime.now().strftime("%H%M%S%f")
            run = self.api.post(
                f"/api/v2/dags/{scenario.dag_id}/dagRuns",
                {"dag_run_id": f"e2e__{stamp}", "logical_date": None, "conf": conf},
            )
            outcome.run_id = run["dag_run_id"]
            started = time.monotonic()
            state = run["state"]
            while state not in TERMINAL:
                self.deployment.processes.assert_alive()
                if time.monotonic() - started > scenario.timeout:
                    raise CheckFailed(f"run {outcome.run_id} not finished after {scenario.timeout:g} s")
                self._follow(outcome, gate)
                time.sleep(0.5)
                state = self.api.dag_run(scenario.dag_id, outcome.run_id)["state"]
            say(f"   run {state} after {time.monotonic() - started:.1f} s")
        finally:
            if gate:
                gate.reset()
        details = self.api.dag_run(scenario.dag_id, outcome.run_id)
        outcome.state = details["state"]
        start, end = parse_time(details.get("start_date")), parse_time(details.get("end_date"))
        outcome.duration = (end - start).total_seconds() if start and end else None
        outcome.task_instances = self.api.task_instances(scenario.dag_id, outcome.run_id)
        outcome.sms = self._collect_sms(scenario, sent_before)
        self._check(outcome)
        return outcome

    def _follow(self, outcome: Outcome, gate: Any) -> None:
        """Record each task's successive states; open the gate once the sensor is deferred."""
        for ti in self.api.task_instances(outcome.scenario.dag_id, outcome.run_id):
            key = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            seen = outcome.states_seen.setdefault(key, [])
            if ti["state"] and (not seen or seen[-1] != ti["state"]):
                seen.append(ti["state"])
                if gate and key == outcome.scenario.deferred_task and ti["state"] == "deferred":
                    say(f"   {key} is deferred: opening the gate")
                    gate.open()

    def _collect_sms(self, scenario: Scenario, offset: int) -> list[dict[str, Any]]:
        """This run's SMS: wait (bounded) for the expected number (DAG-level callbacks run in the
        dag-processor after the run ends), then a short settle to catch late duplicates."""
        expected = len(scenario.sms or ())
        with contextlib.suppress(CheckFailed):
            wait_until("the expected SMS", lambda: self.emulator.sent_count() - offset >= expected, 60)
        time.sleep(2.0)
        return self.emulator.sent(offset)

    def _check(self, outcome: Outcome) -> None:
        scenario = outcome.scenario
        label = scenario.label
        self.checks.record(
            outcome.state == scenario.state, f"{label}: run {scenario.state}", f"it ended {outcome.state}"
        )
        wrong = [
            f"{ti['task_id']}[{ti['map_index']}]={ti['state']}"
            for ti in outcome.task_instances
            if ti["state"] != scenario.task_states.get(ti["task_id"], "success")
        ]
        expected_states = ", ".join(f"{k} {v}" for k, v in scenario.task_states.items())
        self.checks.record(
            not wrong and bool(outcome.task_instances),
            f"{label}: {len(outcome.task_instances)} task instances as expected "
            f"({expected_states or 'all success'})",
            f"unexpected: {', '.join(wrong) or 'no task instances'}",
        )
        pairs = Counter((sms["tel"], sms["text"]) for sms in outcome.sms)
        duplicates = [f"{tel}: {text[:40]!r} x{n}" for (tel, text), n in pairs.items() if n > 1]
        self.checks.record(not duplicates, f"{label}: no SMS received twice", "; ".join(duplicates[:5]))
        if scenario.sms is not None:
            self._check_expected_sms(label, scenario.sms, outcome.sms)
        if scenario.deferred_task:
            self._check_deferral(outcome, scenario.deferred_task)
        if scenario.pool:
            self._check_pool(outcome, *scenario.pool)
        for pattern in scenario.files:
            found = sorted(self.deployment.work.glob(pattern))
            self.checks.record(bool(found), f"{label}: wrote {pattern}", "no such file")

    def _check_expected_sms(self, label: str, expected: tuple[Sms, ...], got: list[dict[str, Any]]) -> None:
        received: dict[str, list[dict[str, Any]]] = {}
        for sms in got:
            received.setdefault(sms["tel"], []).append(sms)
        missing = []
        for want in expected:
            candidates = received.get(want.tel, [])
            match = next(
                (
                    sms
                    for sms in candidates
                    if want.fragment in sms["text"]
                    and (want.date_envoi is None or want.date_envoi in str(sms.get("date_envoi") or ""))
                ),
                None,
            )
            if match is None:
                missing.append(
                    f"{want.tel} {want.fragment!r}" + (f" at {want.date_envoi}" if want.date_envoi else "")
                )
            else:
                candidates.remove(match)
        unexpected = [f"{s['tel']} {s['text'][:50]!r}" for rest in received.values() for s in rest]
        self.checks.record(
            not missing and not unexpected,
            f"{label}: exactly the {len(expected)} expected SMS",
            f"missing: {missing[:5] or 'none'}{' ...' if len(missing) > 5 else ''}; "
            f"unexpected: {unexpected[:5] or 'none'}{' ...' if len(unexpected) > 5 else ''}",
        )

    def _check_pool(self, outcome: Outcome, pool: str, slots: int) -> None:
        """From the task instances' start and end times: never more than ``slots`` at once in ``pool``."""
        events = []
        for ti in outcome.task_instances:
            start, end = parse_time(ti.get("start_date")), parse_time(ti.get("end_date"))
            if ti.get("pool") == pool and start and end:
                events += [(start, 1), (end, -1)]
        running = peak = 0
        for _, step in sorted(events, key=lambda event: (event[0], event[1])):
            running += step
            peak = max(peak, running)
        self.checks.record(
            bool(events) and 0 < peak <= slots,
            f"{outcome.scenario.label}: {len(events) // 2} tasks in pool {pool!r}, at most {peak} at once "
            f"(slots: {slots})",
            "no task in the pool" if not events else f"{peak} at once",
        )

    def _check_deferral(self, outcome: Outcome, task_id: str) -> None:
        seen = outcome.states_seen.get(task_id, [])
        final = next((ti["state"] for ti in outcome.task_instances if ti["task_id"] == task_id), None)
        self.checks.record(
            "deferred" in seen and final == "success",
            f"{outcome.scenario.label}: {task_id} observed deferred, then success",
            f"states seen {seen}, final {final}",
        )
        run_dir = self.deployment.home / "logs" / f"dag_id={outcome.scenario.dag_id}"
        run_dir = run_dir / f"run_id={outcome.run_id}" / f"task_id={task_id}"
        trigger_logs = sorted(run_dir.glob("attempt=*.log.trigger.*.log"))
        text = "".join(p.read_text(errors="replace") for p in trigger_logs)
        self.checks.record(
            outcome.scenario.trigger_log in text,
            f"{outcome.scenario.label}: the triggerer completed {task_id} (its trigger log says "
            f"{outcome.scenario.trigger_log!r})",
            f"trigger logs: {[p.name for p in trigger_logs] or 'none'} under {run_dir}",
        )


def alert_fallback(runner: Runner) -> Outcome:
    """Credit exhausted: iSendPro refuses each alert of a task failing on both of its tries (code 10), and
    the notifier's fallback, Airflow's SMTP notifier, e-mails on-call once per failed try (the DAG is
    e2e/dags/isendpro_e2e_alert_fallback.py). Counted on both receiving sides: the emulator refused 2
    sends and took no SMS, the SMTP server got exactly the 2 e-mails."""
    emulator, sink, checks = runner.emulator, runner.deployment.smtp, runner.checks
    emulator_log = runner.deployment.processes.log("emulator")
    log_offset, mails_before, saved = emulator_log.stat().st_size, len(sink.mails), emulator.credit()
    emulator.set_credit(0)
    say("   emulator credit 0: iSendPro refuses every SMS (code 10)")
    try:
        outcome = runner.run(Scenario(
            "alert fallback (credit 0: e-mail)", FALLBACK_DAG, state="failed", task_states={"load": "failed"},
            sms=(), timeout=90,
        ))  # fmt: skip
    finally:
        emulator.set_credit(saved)
    label = outcome.scenario.label
    with contextlib.suppress(CheckFailed):
        wait_until("2 e-mails", lambda: len(sink.mails) - mails_before >= 2, 30)
    got = sorted(sink.mails[mails_before:], key=lambda mail: mail.subject)
    want = [
        Mail(SmtpSink.FROM, (ONCALL_MAIL,), f"[Airflow] {FALLBACK_DAG}.load failed (try {n})",
             f"<p>{FALLBACK_DAG}.load try {n}: warehouse unreachable</p>")
        for n in (1, 2)
    ]  # fmt: skip
    checks.record(
        got == want,
        f"{label}: the SMTP server received exactly 1 e-mail per failed try (2), naming the task, the try "
        "and the error",
        f"received {got}",
    )
    with emulator_log.open("rb") as log:
        log.seek(log_offset)
        lines = log.read().decode(errors="replace").splitlines()
    refused = [line for line in lines if "POST /cgi-bin/sms -> " in line and "refused: code 10" in line]
    checks.record(
        len(refused) == 2, f"{label}: the emulator refused 2 alert SMS (code 10, insufficient credit)",
        f"emulator lines: {lines[-5:]}",
    )  # fmt: skip
    task_dir = runner.deployment.home / "logs" / f"dag_id={FALLBACK_DAG}" / f"run_id={outcome.run_id}"
    said = []
    for attempt in (1, 2):
        logs = task_dir.glob(f"task_id=load/attempt={attempt}*")
        text = "".join(p.read_text(errors="replace") for p in logs)
        said.append(
            "iSendPro alert not sent by SMS (" in text
            and "sendSms (POST /sms): iSendPro refused the request: code 10, 'Insufficient credit" in text
            and "calling the fallback SmtpNotifier" in text
            and "iSendPro alert fallback SmtpNotifier done" in text
        )
    checks.record(
        all(said), f"{label}: each try's log says the SMS was refused (code 10) and the fallback done",
        f"per try: {said}",
    )  # fmt: skip
    return outcome


def delivery_receipts(runner: Runner) -> Outcome:
    """Delivery receipts on the real deployment (issue 22): ``isendpro_delivery_receipts`` sends to 200
    numbers; the emulator posts one receipt per SMS (statut drawn from ``DLR_MIX`` per tracker) to the API
    server's receiver, held until ``wait_for_receipts`` is seen deferred (``ReceiptGate``); the sensor
    must finish in the triggerer with exactly what the emulator posted, and no log may hold the secret."""
    emulator, checks, deployment = runner.emulator, runner.checks, runner.deployment
    numbers = [f"0612{400000 + n:06d}" for n in range(RECEIPTS_COUNT)]
    emulator.configure(
        dlr_url=f"http://127.0.0.1:{deployment.api_port}/isendpro/dlr/{DLR_SECRET}",
        dlr_statuses=DLR_MIX,
        dlr_number_statuses=DLR_PINNED,
    )
    say("   the emulator posts delivery receipts to the API server's receiver (/isendpro/dlr/<secret>)")
    try:
        outcome = runner.run(Scenario(
            f"{RECEIPTS_DAG} ({RECEIPTS_COUNT} recipients, receipts)", RECEIPTS_DAG,
            conf={"count": RECEIPTS_COUNT}, sms=tuple(Sms(n, "Votre commande est en route") for n in numbers),
            deferred_task="wait_for_receipts", gate="receipts", trigger_log="(receipts)", timeout=120,
        ))  # fmt: skip
        with contextlib.suppress(CheckFailed):
            wait_until("every receipt settled", lambda: emulator.dlr()["pending"] == 0, 30)
        posted = emulator.dlr()
    finally:
        emulator.configure(dlr_url=None, dlr_statuses={"0": 1.0}, dlr_number_statuses={})
    label = outcome.scenario.label
    calls = posted.pop("calls")
    checks.record(
        len(calls) == RECEIPTS_COUNT
        and all((c["status"], c["attempt"], c["response"]) == (200, 1, "stored\n") for c in calls)
        and sorted(c["tel"] for c in calls) == numbers,
        f"{label}: the emulator posted {RECEIPTS_COUNT} receipts, one per SMS, each stored by the receiver "
        "(200 'stored', first attempt)",
        f"{len(calls)} calls; summary {posted}; first: {calls[:1]}",
    )
    by_statut: dict[str, list[str]] = {"0": [], "1": [], "2": []}
    for call in sorted(calls, key=lambda c: c["tel"]):
        by_statut.setdefault(call["statut"], []).append(call["tel"])
    counts = {
        "delivered": len(by_statut["0"]), "failed": len(by_statut["1"]), "expired": len(by_statut["2"]),
        "unknown": 0, "pending": 0,
    }  # fmt: skip
    base = f"/api/v2/dags/{RECEIPTS_DAG}/dagRuns/{outcome.run_id}/taskInstances"

    def xcom(task_id: str) -> Any:
        value = runner.api.get(f"{base}/{task_id}/xcomEntries/return_value")["value"]
        return json.loads(value) if isinstance(value, str) else value

    summary = xcom("wait_for_receipts") if outcome.state == "success" else {}
    got = {k: summary.get(k) for k in ("source", "total", "counts", "failed", "expired", "condition_met")}
    want = {
        "source": "receipts", "total": RECEIPTS_COUNT, "counts": counts, "failed": by_statut["1"],
        "expired": by_statut["2"], "condition_met": True,
    }  # fmt: skip
    checks.record(
        got == want,
        f"{label}: the sensor's XCom holds exactly the emulator's receipts: {counts['delivered']} "
        f"delivered, {counts['failed']} failed, {counts['expired']} expired, 0 pending, and those numbers",
        f"got {got}",
    )
    follow_up = xcom("follow_up") if outcome.state == "success" else None
    checks.record(
        follow_up == {"failed": by_statut["1"], "expired": by_statut["2"]},
        f"{label}: follow_up got the {counts['failed'] + counts['expired']} numbers no SMS reached",
        f"got {follow_up}",
    )
    parts = [f"{counts['delivered']}/{RECEIPTS_COUNT} delivered"]
    parts += [f"{counts[s]} {s}" for s in ("failed", "expired") if counts[s]]
    line = f"SMS delivery: {', '.join(parts)} (receipts)"
    run_dir = deployment.home / "logs" / f"dag_id={RECEIPTS_DAG}" / f"run_id={outcome.run_id}"
    trigger_logs = (run_dir / "task_id=wait_for_receipts").glob("attempt=*.log.trigger.*.log")
    trigger_text = "".join(p.read_text(errors="replace") for p in trigger_logs)
    checks.record(line in trigger_text, f"{label}: the trigger logged {line!r}", "not in its trigger log")
    api_log = deployment.processes.log("api-server").read_text(errors="replace")
    # Airflow 3.1 (uvicorn) writes "GET /isendpro/dlr/REDACTED?tel=REDACTED...", 3.2+ writes
    # "path=/isendpro/dlr/REDACTED query='tel=REDACTED...'": the same masks either way.
    access = [line for line in api_log.splitlines() if "/isendpro/dlr/" in line]
    masked = [line for line in access if "/isendpro/dlr/REDACTED" in line and "tel=REDACTED" in line]
    numbers_seen = [n for n in numbers if n in api_log]
    checks.record(
        len(masked) == len(access) >= RECEIPTS_COUNT and not numbers_seen,
        f"{label}: the API server's access log shows the {RECEIPTS_COUNT} callbacks with the secret and the "
        "number masked (none of the numbers in it)",
        f"{len(masked)} masked of {len(access)} lines; numbers seen: {numbers_seen[:3]}",
    )
    roots = (deployment.home / "logs", deployment.logs)
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    leaking = [str(p) for p in files if DLR_SECRET.encode() in p.read_bytes()]
    checks.record(
        not leaking,
        f"{label}: the receiver's secret is in none of the {len(files)} log files (API server's included)",
        f"found in {leaking}",
    )
    return outcome


def check_logs_for_key(deployment: Deployment, outcomes: list[Outcome], checks: Checks) -> None:
    task_logs = [p for p in (deployment.home / "logs").rglob("*") if p.is_file()]
    without_logs = [
        f"{o.scenario.dag_id}/{o.run_id}"
        for o in outcomes
        if o.run_id and not any(f"run_id={o.run_id}" in str(p) for p in task_logs)
    ]
    checks.record(not without_logs, "task logs written under $AIRFLOW_HOME/logs", f"none for {without_logs}")
    files = task_logs + [p for p in deployment.logs.rglob("*") if p.is_file()]
    key = API_KEY.encode()

    def text_to_search(path: Path) -> bytes:
        data = path.read_bytes()
        if path.name != "emulator.log":
            return data
        # The emulator (the test double) announces the fake key it accepts in its banner, by design
        # (README tutorial); its per-request lines, which follow, must not hold it.
        banner = (b"API key: ", b"  export AIRFLOW_CONN_ISENDPRO_DEFAULT=")
        return b"\n".join(line for line in data.splitlines() if not line.startswith(banner))

    leaking = [str(p) for p in files if key in text_to_search(p)]
    checks.record(
        not leaking,
        f"the API key appears in none of the {len(files)} log files (task, trigger and component logs)",
        f"found in {leaking}",
    )


def check_api_for_key(api: AirflowApi, outcomes: list[Outcome], checks: Checks) -> None:
    """Neither rendered template fields (task instances) nor XCom values may hold the API key."""
    documents: list[Any] = []
    for o in outcomes:
        if not o.run_id:
            continue
        documents += o.task_instances
        base = f"/api/v2/dags/{o.scenario.dag_id}/dagRuns/{o.run_id}/taskInstances"
        for entry in api.get(f"{base}/~/xcomEntries", limit=1000)["xcom_entries"]:
            path = f"{base}/{entry['task_id']}/xcomEntries/{entry['key']}"
            documents.append(api.get(path, map_index=entry["map_index"]))
    leaking = [doc.get("task_id", "?") for doc in documents if API_KEY in json.dumps(doc)]
    checks.record(
        not leaking,
        f"the API key appears in none of the {len(documents)} task instances (rendered fields) and "
        "XCom values served by the API",
        f"found for {leaking}",
    )


def summary(outcomes: list[Outcome]) -> None:
    say("")
    header = f"{'DAG':<42} {'state':<8} {'duration':>9}  SMS received"
    say(header)
    say("-" * len(header))
    for o in outcomes:
        duration = f"{o.duration:.1f} s" if o.duration is not None else "-"
        expected = len(o.scenario.sms) if o.scenario.sms is not None else "?"
        tels = [s["tel"] for s in o.sms]
        recipients = ", ".join(tels if len(tels) <= 4 else [*tels[:2], f"... {tels[-1]}"])
        sms = f"{len(o.sms)} (expected {expected})" + (f": {recipients}" if recipients else "")
        say(f"{o.scenario.label:<42} {o.state:<8} {duration:>9}  {sms}")


# ----------------------------------------------------------------------------------------------------


def exercise(deployment: Deployment, checks: Checks, outcomes: list[Outcome]) -> None:
    """Everything between start and stop: the DAGs, the connection form, the runs, the logs."""
    runner = Runner(deployment, checks)
    plan = scenarios()
    say("== DAGs")
    dag_ids = runner.wait_for_dags({s.dag_id for s in plan} | {FALLBACK_DAG, RECEIPTS_DAG})
    runner.check_connection_form()
    for dag_id in sorted(dag_ids - {s.dag_id for s in plan} - {FALLBACK_DAG, RECEIPTS_DAG}):
        say(f"   note: no scenario for {dag_id}: it must succeed; its SMS are only checked for duplicates")
        plan.append(Scenario(dag_id, dag_id, sms=None))
    for scenario in plan:
        outcomes.append(runner.run(scenario))
    outcomes.append(alert_fallback(runner))
    outcomes.append(delivery_receipts(runner))
    say("== logs and totals")
    check_logs_for_key(deployment, outcomes, checks)
    check_api_for_key(runner.api, outcomes, checks)
    total = runner.emulator.sent_count()
    accounted = sum(len(o.sms) for o in outcomes)
    checks.record(
        total == accounted,
        f"no SMS outside the runs (the emulator received {total}, the runs account for {accounted})",
    )


def run_deployment(
    name: str,
    work: Path,
    deployment: Any,
    *,
    scenarios: Callable[[], None],
    checks: Checks,
    report: Callable[[], None],
    budget: float,
    keep: bool,
    started: float,
) -> int:
    """Start ``deployment``, run ``scenarios`` within ``budget`` seconds, always stop everything, then
    print ``report()`` and the checks; 0 when every check passed (``work`` is kept when one failed)."""

    def _interrupted(signum: int, frame: FrameType | None) -> None:
        raise CheckFailed(
            f"the run went over its {budget:g} s budget" if signum == signal.SIGALRM else "interrupted"
        )

    signal.signal(signal.SIGALRM, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    signal.alarm(int(budget))
    say(f"{name}: working directory {work}")
    try:
        deployment.start()
        scenarios()
    except (CheckFailed, requests.RequestException) as exc:
        checks.record(False, "the deployment ran to the end", str(exc))
    except Exception as exc:  # a bug here: still stop everything and say what happened
        traceback.print_exc()
        checks.record(False, "the deployment ran to the end", repr(exc))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the stop is bounded: let it finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        leftovers = deployment.stop()
        checks.record(not leftovers, "nothing left running after the stop", f"killed {leftovers}")

    report()
    failed = checks.failed
    say("")
    say(
        f"{name}: {len(checks.results) - len(failed)}/{len(checks.results)} checks passed; "
        f"total time {time.monotonic() - started:.0f} s"
    )
    if failed:
        say("FAILED: " + "; ".join(failed))
        say(f"logs kept in {work}")
    elif keep:
        say(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dags-folder", default=str(REPO / "dags_examples"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--budget", type=float, default=BUDGET, help="give up after this many seconds")
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="isendpro-e2e-"))
    dags = work / "dags"  # the examples and the e2e run's own DAGs
    shutil.copytree(Path(args.dags_folder), dags, ignore=shutil.ignore_patterns("__pycache__"))
    for path in E2E_DAGS.glob("*.py"):
        shutil.copy(path, dags)
    deployment = Deployment(work, dags)
    checks = Checks()
    outcomes: list[Outcome] = []

    return run_deployment(
        "e2e", work, deployment, scenarios=lambda: exercise(deployment, checks, outcomes), checks=checks,
        report=lambda: summary(outcomes), budget=args.budget, keep=args.keep, started=started,
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
