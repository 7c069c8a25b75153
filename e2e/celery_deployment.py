"""The deployment of ``make e2e-celery`` (e2e/run_celery.py): ``e2e/run.py``'s, with CeleryExecutor.

Redis (Debian's ``redis-server``) as the broker, ``moto_server`` as the S3 store of the send ledger, and
two Celery workers, each with its own ``AIRFLOW_HOME`` and ``--concurrency 1``, which the scenarios kill
whole (every process of the worker, found through the process tree: Celery and Airflow retitle their
processes, which hides their environment), kill by process group only (the task process survives), or
freeze whole (SIGSTOP) and resume (SIGCONT). Each worker reaches moto through its own port of a loopback
pass-through (``e2e/s3_proxy.py``, the ``endpoint_url`` of the worker's ``aws_default`` connection), which
can hold one chosen reply.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import ClassVar

import requests
from run import (
    AIRFLOW,
    POOL,
    VENV_BIN,
    Deployment,
    Processes,
    alive,
    free_port,
    run_tool,
    say,
    wait_until,
)
from s3_proxy import S3Proxy

BUCKET = "isendpro-e2e"
WORKERS = ("w1", "w2")
#: ``[scheduler] task_instance_heartbeat_timeout`` (s): a task's supervisor heartbeats every 5 s.
HEARTBEAT_TIMEOUT = 20
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
        self.proxy: S3Proxy | None = None
        self.frozen: dict[str, list[int]] = {}  # worker -> the PIDs it had when frozen (until resumed)
        self.redis_port = 0
        self.ledger_root = f"s3://{BUCKET}/ledger"
        self.pylib = work / "pylib"
        self.pythonpath = [str(self.pylib)]  # every component's PYTHONPATH (run_celery.py's --provider)
        self.seen: set[int] = set()  # every worker process ever seen: none may be left at the end

    # Short timeouts, which bound how long a retry waits on a live lease (sending/fencing.py): a request's
    # bound is 4 x 0.5 s connect + 3.5 s backoff + 4 s read = 9.5 s; a lease 2 x (9.5 + 10 s margin) = 39 s.
    CONNECTION_EXTRA: ClassVar[dict[str, float]] = {"connect_timeout": 0.5, "read_timeout": 4}
    EXECUTOR_NOTE = " (CeleryExecutor)"

    # --- start -------------------------------------------------------------------------------------
    def _start_services(self) -> None:
        """Redis and moto (with the ledger's bucket), and the module naming each worker's host."""
        self.pylib.mkdir()
        (self.pylib / "isendpro_e2e_host.py").write_text(HOST_MODULE)
        say("== Redis (Celery broker)")
        self.redis_port = free_port()
        argv = [
            "redis-server",
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.services.start("redis", argv, dict(os.environ))
        wait_until("redis to answer PING", lambda: _redis_ping(self.redis_port), 30)
        say(f"   127.0.0.1:{self.redis_port}")

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
        self.proxy = S3Proxy(self.s3_url, self.logs / "s3-proxy.log")
        for worker in WORKERS:
            say(f"   {worker} reaches it through {self.proxy.add(worker)} (e2e/s3_proxy.py)")

    def _environment(self, base_url: str, sql_alchemy_conn: str) -> dict[str, str]:
        """The LocalExecutor deployment's environment with CeleryExecutor, Redis and the AWS connection;
        workers add their own home and the ledger settings."""
        env = super()._environment(base_url, sql_alchemy_conn)
        del env["AIRFLOW__ISENDPRO__LEDGER_PATH"]  # per worker: see start_worker
        # The ledger's only AWS credentials: no AWS_* variable reaches any component.
        env.update({
            "PYTHONPATH": os.pathsep.join(self.pythonpath),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "isendpro_e2e_host.hostname",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sql_alchemy_conn,
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW_CONN_AWS_DEFAULT": self.aws_connection(self.s3_url),
        })  # fmt: skip
        return env

    @staticmethod
    def aws_connection(endpoint_url: str) -> str:
        """``aws_default`` (JSON), reaching S3 at ``endpoint_url``."""
        return json.dumps({
            "conn_type": "aws", "login": "e2e-fake-access-key", "password": "e2e-fake-secret-key",
            "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
        })  # fmt: skip

    # --- workers -----------------------------------------------------------------------------------
    def worker_home(self, worker: str) -> Path:
        return self.work / worker

    def start_workers(self, *, s3_ledger: bool) -> None:
        for worker in WORKERS:
            self.start_worker(worker, s3_ledger=s3_ledger)
        for worker in WORKERS:
            self.wait_ready(worker)
        say(f"   workers ready ({'S3 ledger' if s3_ledger else 'no [isendpro] ledger_path'})")

    def wait_ready(self, worker: str) -> None:
        log = self.workers.log(worker)
        wait_until(f"celery worker {worker} to be ready", lambda: b" ready." in log.read_bytes(), 90)

    def set_pool_slots(self, slots: int) -> None:
        """Resize the ``isendpro`` pool (0: no batch may start)."""
        name, _, description = POOL
        run_tool(
            [AIRFLOW, "pools", "set", name, str(slots), description], self.env, self.logs / "pools.log", 60
        )

    def start_worker(self, worker: str, *, s3_ledger: bool) -> None:
        home = self.worker_home(worker)
        home.mkdir(exist_ok=True)
        env = {**self.env, "AIRFLOW_HOME": str(home), "ISENDPRO_E2E_WORKER": worker}
        if self.proxy is not None:  # this worker's own port of the pass-through
            env["AIRFLOW_CONN_AWS_DEFAULT"] = self.aws_connection(self.proxy.urls[worker])
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

    def freeze_machine(self, worker: str) -> list[int]:
        """SIGSTOP to every process of ``worker`` (its task process included): a paused VM. Parents first,
        and again until the tree is whole (a stopped process forks no more)."""
        stopped: list[int] = []
        for _ in range(5):
            pids = [p for p in self.tree(worker) if p not in stopped]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            stopped += pids
        self.frozen[worker] = stopped
        return stopped

    def resume_machine(self, worker: str) -> list[int]:
        """SIGCONT to every process :meth:`freeze_machine` stopped (children first)."""
        pids = self.frozen.pop(worker, [])
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        return pids

    def task_processes(self, worker: str) -> list[int]:
        """The worker's processes below its Celery pool (the task supervisor's children: the task process)."""
        proc = self.workers.procs.get(worker)
        if proc is None:
            return []
        pool = {p for p in self.tree(worker) if _ppid(p) == proc.pid}
        return [p for p in self.tree(worker) if p != proc.pid and p not in pool]

    # --- stop --------------------------------------------------------------------------------------
    def stop(self) -> list[int]:
        say("== stopping workers, redis, moto")
        for worker in list(self.frozen):
            self.resume_machine(worker)
        if self.proxy is not None:
            self.proxy.stop()
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


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
