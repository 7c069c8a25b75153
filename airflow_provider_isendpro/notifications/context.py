"""What the notifier reads from Airflow besides the callback context: template accessors, the sender."""

from __future__ import annotations

from typing import Any


def add_accessors(ctx: dict[str, Any]) -> None:
    """``var`` and ``conn`` for templates, where Airflow's context lacks them (DAG callbacks called
    directly, Deadline Alert contexts), so that ``to="{{ var.value.oncall_phone }}"`` works everywhere."""
    if "var" in ctx and "conn" in ctx:
        return
    try:
        from airflow.sdk.execution_time.context import ConnectionAccessor, VariableAccessor
    except ImportError:  # pragma: no cover - an SDK that moved them: templates without var/conn
        return
    ctx.setdefault(
        "var",
        {"json": VariableAccessor(deserialize_json=True), "value": VariableAccessor(deserialize_json=False)},
    )
    ctx.setdefault("conn", ConnectionAccessor())


async def async_default_sender(conn_id: str) -> str | None:
    """The connection's ``sender`` extra, read without blocking the event loop (None on any problem:
    the send itself reports a broken connection)."""
    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    try:
        conn = await get_async_connection(conn_id)
        extra = await get_async_extra_dejson(conn)
    except Exception:
        return None
    sender = extra.get("sender")
    return str(sender).strip() or None if sender else None
