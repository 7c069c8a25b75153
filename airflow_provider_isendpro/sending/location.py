"""Where the send ledger lives, and whether that place is safe under the configured executor.

The ledger (and the notifier's alert markers beside it) is what makes "nobody texted twice" hold across
task tries. A try's retry may run on another machine with an empty disk, so under any executor that runs
tasks away from the scheduler's machine (Celery, Kubernetes, Edge, a hybrid that includes one of them,
any third-party executor) a ledger on a local disk would silently forget what was sent. Such a set-up is
refused before any request, with the setting to change; a shared volume (NFS, EFS...) mounted at the same
path on every worker is declared with ``[isendpro] ledger_is_shared = True``.

Configuration (``airflow.cfg`` or ``AIRFLOW__ISENDPRO__...``), overridable per task:

- ``ledger_path``: a folder, or an object-storage URL (``s3://bucket/isendpro-ledger``, ``gs://``,
  ``abfs://``...). Empty: ``$AIRFLOW_HOME/isendpro/ledger``, which only suits one machine.
- ``ledger_conn_id``: the Airflow connection whose credentials reach that object storage (e.g.
  ``aws_default``). Empty: the storage library's own default chain (for S3, boto3's environment
  variables, instance profile or web identity, as on MWAA, EKS with IRSA, or Astronomer's workload
  identity).
- ``ledger_is_shared``: ``True`` when a local-looking ``ledger_path`` is in fact shared by every worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from airflow_provider_isendpro.errors import IsendproConfigError

#: Executors that run every task on the scheduler's own machine: a local ledger is safe with them.
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})

EXAMPLE_SETTING = (
    "[isendpro]\n"
    "ledger_path = s3://my-bucket/isendpro-ledger\n"
    "ledger_conn_id = aws_default\n"
    "(or AIRFLOW__ISENDPRO__LEDGER_PATH=s3://my-bucket/isendpro-ledger)"
)


@dataclass(frozen=True)
class LedgerLocation:
    """A resolved ledger root: where, with which connection, and what kind of storage it is."""

    root: str
    conn_id: str | None
    #: where ``root`` came from, for messages: a task parameter, the configuration, or the default.
    origin: str
    #: the operator declared the folder shared by every worker (``[isendpro] ledger_is_shared``).
    declared_shared: bool = False

    @property
    def is_local(self) -> bool:
        """A folder on this machine's disk (``file://`` URLs included), not object storage."""
        return "://" not in self.root or self.root.startswith("file://")

    def child(self, name: str) -> LedgerLocation:
        """The same storage, one level down (the notifier keeps its markers under ``_notifier``)."""
        return LedgerLocation(
            f"{self.root.rstrip('/')}/{name}", self.conn_id, self.origin, self.declared_shared
        )


def _config(key: str) -> str:
    from airflow_provider_isendpro._compat import conf

    return str(conf.get("isendpro", key, fallback="") or "").strip()


def default_ledger_root() -> str:
    """``$AIRFLOW_HOME/isendpro/ledger``: the single-machine default."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return os.path.join(home, "isendpro", "ledger")


def resolve_ledger(ledger_path: str | None = None, ledger_conn_id: str | None = None) -> LedgerLocation:
    """The ledger root for a task: its own parameters first, then ``[isendpro]``, then the default."""
    from airflow_provider_isendpro._compat import conf

    conn_id = ledger_conn_id or _config("ledger_conn_id") or None
    shared = conf.getboolean("isendpro", "ledger_is_shared", fallback=False)
    if ledger_path:
        return LedgerLocation(str(ledger_path), conn_id, "the task's ledger_path parameter", shared)
    configured = _config("ledger_path")
    if configured:
        return LedgerLocation(configured, conn_id, "[isendpro] ledger_path", shared)
    return LedgerLocation(
        default_ledger_root(), conn_id, "the default ($AIRFLOW_HOME/isendpro/ledger)", shared
    )


def configured_executors() -> list[str]:
    """The executor names of ``[core] executor`` (hybrids are comma-separated; aliases ``alias:path``)."""
    from airflow_provider_isendpro._compat import conf

    raw = str(conf.get("core", "executor", fallback="") or "LocalExecutor")
    return [entry.strip() for entry in raw.split(",") if entry.strip()]


def remote_executors(executors: list[str] | None = None) -> list[str]:
    """The configured executors that may run a task on another machine than the previous try's."""
    names = configured_executors() if executors is None else executors
    remote = []
    for entry in names:
        class_name = entry.split(":")[-1].rsplit(".", 1)[-1]
        if class_name not in LOCAL_EXECUTORS:
            remote.append(entry)
    return remote


def require_shared_ledger(location: LedgerLocation, who: str, executors: list[str] | None = None) -> None:
    """Refuse a ledger on a local disk when tries may run on different machines.

    :param who: what is refused, for the message (``"SendSmsOperator"``, ``"IsendproNotifier"``).
    :raises IsendproConfigError: naming ``[isendpro] ledger_path`` with an example.
    """
    if not location.is_local or location.declared_shared:
        return
    remote = remote_executors(executors)
    if not remote:
        return
    raise IsendproConfigError(
        f"{who} refuses to run: its send ledger is on this worker's local disk ({location.root}, from "
        f"{location.origin}) but [core] executor = {', '.join(remote)} may run a retry on another "
        "machine, which would not see what was already sent and would text people twice. Point "
        "[isendpro] ledger_path at storage every worker reaches, for example:\n"
        f"{EXAMPLE_SETTING}\n"
        "If that folder is a shared volume (NFS, EFS) mounted on every worker, set "
        "[isendpro] ledger_is_shared = True instead."
    )
