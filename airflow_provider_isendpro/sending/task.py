"""One task instance's send: the entry point of the send engine for ``SendSmsOperator``.

The operator knows where it runs (the DAG, run, task and map index; the try number; the worker's host
name) and what the user asked for; this module turns that into the engine's parts: the ledger's
location and its refusal under a remote executor, the record stores of the ledger and of its claims, the
fence (bounded by the connection's timeouts), the ledger, and the per-try details file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_isendpro.record_store import open_record_store
from airflow_provider_isendpro.sending.fencing import Fence, SystemClock, request_bound
from airflow_provider_isendpro.sending.ledger import Ledger
from airflow_provider_isendpro.sending.location import LedgerLocation, require_shared_ledger
from airflow_provider_isendpro.sending.service import SendOutcome, SendPolicy, run_send

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import ClientConfig, IsendproClient
    from airflow_provider_isendpro.record_store import RecordStore
    from airflow_provider_isendpro.sending.engine import SendOptions
    from airflow_provider_isendpro.sending.fencing import Clock
    from airflow_provider_isendpro.sending.plan import Planner
    from airflow_provider_isendpro.sending.sources import SourceItem

log = logging.getLogger("airflow_provider_isendpro.sending")


@dataclass(frozen=True)
class TaskTry:
    """Which try of which task instance is sending, and on which worker."""

    #: ``[dag_id, run_id, task_id, map_index]``: the ledger's folder for this task instance.
    scope: list[str]
    #: Airflow's try number (1 for the first try).
    attempt: int
    #: the worker's name (Airflow's ``hostname_callable``): two workers of one machine are two hosts.
    host: str


def default_details_path(location: LedgerLocation, scope: list[str], attempt: int) -> str:
    """Where a try writes its per-recipient results when they are too many for the XCom: beside the
    ledger, one file per try."""
    folder = open_record_store(location.root, scope).describe().rstrip("/")
    return f"{folder}-results/try-{attempt}.jsonl"


def send_for_task(
    *,
    client: Callable[[], IsendproClient],
    client_config: ClientConfig,
    planner: Planner,
    source: Callable[[], Iterator[SourceItem]],
    options: SendOptions,
    policy: SendPolicy,
    location: LedgerLocation,
    task: TaskTry,
    who: str = "SendSmsOperator",
    details_path: str | None = None,
    stores: Callable[[list[str]], RecordStore] | None = None,
    clock: Clock | None = None,
) -> SendOutcome:
    """Plan, guard and send one task instance's SMS exactly once across its tries (see
    :func:`~.service.run_send`). Refuses, before any request, a ledger on a local disk under a remote
    executor; a dry run opens neither the ledger nor the client.

    ``stores`` (the record store of a scope, default: under ``location``) and ``clock`` (the fence's)
    let the protocol be driven step by step (``tests/sending/test_interleavings.py``)."""
    if not policy.dry_run:
        require_shared_ledger(location, who)

    def store_of(scope: list[str]) -> RecordStore:
        if stores is not None:
            return stores(scope)
        return open_record_store(location.root, scope, location.conn_id)

    def claimed_ledger() -> Ledger:
        store = store_of(task.scope)
        log.info("send ledger: %s (from %s)", store.describe(), location.origin)
        fence = Fence(
            store_of([*task.scope, "_claims"]),
            attempt=task.attempt,
            bound=request_bound(client_config),
            clock=clock or SystemClock(),
            host=task.host,
        )
        fence.claim()  # before the ledger is read: see fencing's protocol
        return Ledger(store, attempt=fence.label, fence=fence)

    return run_send(
        client=client,
        planner=planner,
        source=source,
        options=options,
        policy=policy,
        ledger=claimed_ledger,
        details_path=details_path or default_details_path(location, task.scope, task.attempt),
        details_conn_id=location.conn_id,
    )
