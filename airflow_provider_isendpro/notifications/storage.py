"""Where an alert's de-duplication markers and throttle windows live, and why an alert never waits on it.

A send to customers refuses to run where it cannot be safe; an alert to on-call goes out anyway (a
possible duplicate beats silence) and says, at ERROR, what it could not guarantee and the setting that
fixes it:

* **A local ledger under a remote executor** (``[core] executor = CeleryExecutor`` and no
  ``[isendpro] ledger_path``): the markers and windows stay on this machine's disk, so de-duplication and
  throttling hold on this machine only.
* **A ledger that cannot be read or written** (a bucket without permission, a full disk, an object store
  that is down): from the first error on, this alert's records go to this process's memory, so
  de-duplication and throttling hold within this process only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_isendpro.errors import IsendproConfigError
from airflow_provider_isendpro.notifications.text import redact

if TYPE_CHECKING:
    from airflow_provider_isendpro.record_store import RecordStore
    from airflow_provider_isendpro.sending.location import LedgerLocation

#: The settings that point every worker at one ledger, for the ERROR lines.
FIX: Final = (
    "set [isendpro] ledger_path to storage every worker reaches (e.g. s3://my-bucket/isendpro-ledger, "
    "with [isendpro] ledger_conn_id), or [isendpro] ledger_is_shared = True for a volume mounted on "
    "every worker"
)

_MEMORY: dict[str, dict[str, str]] = {}
_MEMORY_LOCK = threading.Lock()


class ProcessRecordStore:
    """A record folder in this process's memory: the last resort when the ledger cannot be used.

    ``create`` is atomic between the threads of this process; nothing is seen by any other process."""

    def __init__(self, key: str) -> None:
        self.key = key
        with _MEMORY_LOCK:
            self._records = _MEMORY.setdefault(key, {})

    def names(self) -> set[str]:
        with _MEMORY_LOCK:
            return set(self._records)

    def read(self, name: str) -> str:
        with _MEMORY_LOCK:
            if name not in self._records:
                raise FileNotFoundError(f"{self.describe()}: no record {name}")
            return self._records[name]

    def write(self, name: str, text: str, *, durable: bool = True) -> None:
        with _MEMORY_LOCK:
            self._records[name] = text

    def create(self, name: str, text: str) -> bool:
        with _MEMORY_LOCK:
            if name in self._records:
                return False
            self._records[name] = text
            return True

    def delete(self, name: str) -> None:
        with _MEMORY_LOCK:
            self._records.pop(name, None)

    def describe(self) -> str:
        return f"this process's memory (instead of {self.key})"


class _FailOpenStore:
    """The ledger's store until its first error, then this process's memory (see :class:`AlertStorage`)."""

    def __init__(self, primary: RecordStore, storage: AlertStorage) -> None:
        self.primary = primary
        self.storage = storage
        self.fallback: ProcessRecordStore | None = None

    def _current(self) -> RecordStore:
        return self.fallback if self.fallback is not None else self.primary

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.fallback is None:
            try:
                return getattr(self.primary, method)(*args, **kwargs)
            except Exception as exc:
                self.storage.unusable(self.primary.describe(), exc)
                self.fallback = ProcessRecordStore(self.primary.describe())
        return getattr(self.fallback, method)(*args, **kwargs)

    def names(self) -> set[str]:
        names: set[str] = self._call("names")
        return names

    def read(self, name: str) -> str:
        text: str = self._call("read", name)
        return text

    def write(self, name: str, text: str, *, durable: bool = True) -> None:
        self._call("write", name, text, durable=durable)

    def create(self, name: str, text: str) -> bool:
        created: bool = self._call("create", name, text)
        return created

    def delete(self, name: str) -> None:
        self._call("delete", name)

    def describe(self) -> str:
        return self._current().describe()


class AlertStorage:
    """The record stores of one alert invocation: the ledger's, failing open as this module says."""

    def __init__(self, location: LedgerLocation, log: Any, *, this_machine_only: bool = False) -> None:
        self.location = location
        self.log = log
        #: the ledger is on this machine's disk under a remote executor (already logged)
        self.this_machine_only = this_machine_only
        #: the ledger failed once: the rest of this alert uses process memory (logged once)
        self.process_only = False

    @classmethod
    def resolve(cls, ledger_path: str | None, ledger_conn_id: str | None, log: Any) -> AlertStorage:
        """The notifier's ledger; a local one under a remote executor is used anyway, and said so."""
        from airflow_provider_isendpro.sending.location import (
            remote_executors,
            require_shared_ledger,
            resolve_ledger,
        )

        location = resolve_ledger(ledger_path, ledger_conn_id)
        try:
            require_shared_ledger(location, "IsendproNotifier")
        except IsendproConfigError:
            log.error(
                "iSendPro alert: its ledger is on this machine's local disk (%s, from %s) but [core] "
                "executor = %s runs callbacks on several machines: de-duplication and throttling hold on "
                "this machine only, so a callback repeated on another machine may send this alert again "
                "and alerts from other machines are not throttled with it. Sending it anyway; to fix, %s",
                location.root, location.origin, ", ".join(remote_executors()), FIX,
            )  # fmt: skip
            return cls(location, log, this_machine_only=True)
        return cls(location, log)

    def open(self, root: str, scope: Iterable[str]) -> RecordStore:
        """The store for ``scope`` under ``root`` (the ledger's storage, with the ledger's connection)."""
        from airflow_provider_isendpro.record_store import open_record_store

        return _FailOpenStore(open_record_store(root, scope, self.location.conn_id), self)

    def unusable(self, where: str, exc: BaseException) -> None:
        """The ledger failed: say once, at ERROR, what this alert can no longer guarantee."""
        if self.process_only:
            return
        self.process_only = True
        self.log.error(
            "iSendPro alert: cannot use its ledger at %s (%s: %s); sending it anyway, with de-duplication "
            "and throttling kept in this process only: a callback repeated in another process may send "
            "this alert again. Check that storage and its credentials ([isendpro] ledger_path, "
            "[isendpro] ledger_conn_id)",
            where, type(exc).__name__, redact(str(exc)),
        )  # fmt: skip
