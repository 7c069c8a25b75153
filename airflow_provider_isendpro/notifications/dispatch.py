"""One alert's journey once rendered: storage, de-duplication, throttle, the request, the records.

The sync path (:func:`deliver_sync`: worker, DAG processor) and the async one (:func:`deliver_async`:
the triggerer, for Deadline Alerts) take the same steps in the same order; the async one keeps every
storage call off the event loop. Each returns why the alert did not go (for the fallbacks) or None.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from airflow_provider_isendpro.notifications import planning
from airflow_provider_isendpro.notifications.delivery import AlertDelivery
from airflow_provider_isendpro.notifications.fallback import AlertOutcome, refused_every
from airflow_provider_isendpro.notifications.marker import AlertMarker
from airflow_provider_isendpro.notifications.throttle import ThrottleGate

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import SendResult
    from airflow_provider_isendpro.notifications.event import AlertEvent
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier
    from airflow_provider_isendpro.notifications.storage import AlertStorage
    from airflow_provider_isendpro.notifications.text import AlertPlan


def alert_storage(notifier: IsendproNotifier) -> AlertStorage | None:
    """Where markers and throttle windows live; None when neither is on. Never refuses: see
    :mod:`~airflow_provider_isendpro.notifications.storage` (an alert fails open)."""
    if not notifier.dedupe and notifier.throttle_seconds is None:
        return None
    from airflow_provider_isendpro.notifications.storage import AlertStorage

    return AlertStorage.resolve(notifier.ledger_path, notifier.ledger_conn_id, notifier.log)


def marker_for(
    notifier: IsendproNotifier, storage: AlertStorage | None, event: AlertEvent, plan: AlertPlan
) -> AlertMarker | None:
    """The de-duplication marker of this alert event; None when de-duplication is off or impossible."""
    if plan.key is None or storage is None:
        if notifier.dedupe:
            notifier.log.debug("iSendPro alert: no run id in the callback context, de-duplication off")
        return None
    store = storage.open(storage.location.child("_notifier").root, [event.dag_id, str(event.run_id)])
    return AlertMarker(store, plan.key, notifier.log)


def gate_for(
    notifier: IsendproNotifier, storage: AlertStorage | None, event: AlertEvent
) -> ThrottleGate | None:
    """The throttle's gate for this DAG and scope; None when throttling is off."""
    if storage is None or notifier.throttle_seconds is None:
        return None
    return ThrottleGate(
        storage.location,
        notifier.throttle_scope,
        event.dag_id,
        notifier.throttle_seconds,
        notifier.log,
        open_store=storage.open,
    )


def delivery_for(notifier: IsendproNotifier) -> AlertDelivery:
    return AlertDelivery(
        str(notifier.isendpro_conn_id), notifier.nostop, notifier.max_segments, notifier.ucs2_overseas,
        notifier.log,
    )  # fmt: skip


def deliver_sync(notifier: IsendproNotifier, event: AlertEvent, outcome: AlertOutcome) -> str | None:
    """Check the credit, plan, claim, admit, send and record the alert on the blocking client."""
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    conn_id = str(notifier.isendpro_conn_id)
    watch = notifier.credit_watch
    if watch is not None:
        outcome.low_credit = watch.check_sync(conn_id, notifier.log)
    storage = alert_storage(notifier)
    hook = IsendproHook(conn_id)
    try:
        default_sender = hook.default_sender if notifier.sender in (None, "") else None
        plan = planning.plan(notifier, event, default_sender, _note(outcome))
        marker = marker_for(notifier, storage, event, plan)
        if marker is not None and not marker.claim(plan):
            return None
        gate = gate_for(notifier, storage, event)
        sends = planning.groups(notifier, gate, event, plan)
        delivery = delivery_for(notifier)
        results = []
        for part, admissions in sends:
            try:
                result = delivery.call(hook.client, part)
            except BaseException as exc:
                delivery.release(gate, admissions)
                delivery.settle_error(marker, plan, exc)
                raise
            if not result.accepted:
                delivery.release(gate, admissions)
            results.append((part, result))
        delivery.settle(marker, plan, results)
        outcome.sent = any(result.accepted for _, result in results)
        journal(notifier, storage, event, results)
        return refused_every(results)
    finally:
        hook.close()


async def deliver_async(notifier: IsendproNotifier, event: AlertEvent, outcome: AlertOutcome) -> str | None:
    """:func:`deliver_sync` on the async client, storage calls in threads."""
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook
    from airflow_provider_isendpro.notifications.context import async_default_sender

    conn_id = str(notifier.isendpro_conn_id)
    watch = notifier.credit_watch
    if watch is not None:
        outcome.low_credit = await watch.check_async(conn_id, notifier.log)
    storage = alert_storage(notifier)
    hook = IsendproHook(conn_id)
    default_sender = None
    if notifier.sender in (None, ""):
        default_sender = await async_default_sender(conn_id)
    plan = planning.plan(notifier, event, default_sender, _note(outcome))
    marker = marker_for(notifier, storage, event, plan)
    # Marker and throttle storage is file or object-storage I/O: keep it off the triggerer's loop.
    if marker is not None and not await asyncio.to_thread(marker.claim, plan):
        return None
    gate = gate_for(notifier, storage, event)
    sends = await asyncio.to_thread(planning.groups, notifier, gate, event, plan)
    delivery = delivery_for(notifier)
    results = []
    async with await hook.get_async_client() as client:
        for part, admissions in sends:
            try:
                result: SendResult = await delivery.call(client, part)
            except BaseException as exc:
                await asyncio.to_thread(delivery.release, gate, admissions)
                await asyncio.to_thread(delivery.settle_error, marker, plan, exc)
                raise
            if not result.accepted:
                await asyncio.to_thread(delivery.release, gate, admissions)
            results.append((part, result))
    await asyncio.to_thread(delivery.settle, marker, plan, results)
    outcome.sent = any(result.accepted for _, result in results)
    await asyncio.to_thread(journal, notifier, storage, event, results)
    return refused_every(results)


def journal(
    notifier: IsendproNotifier,
    storage: AlertStorage | None,
    event: AlertEvent,
    results: list[tuple[AlertPlan, SendResult]],
) -> None:
    """Record the trackers of each accepted send, for the digest's delivery report (see
    :mod:`~airflow_provider_isendpro.notifications.journal`); nothing without storage."""
    if storage is None or not any(result.accepted for _, result in results):
        return
    from airflow_provider_isendpro.notifications.journal import journal_root, record_sent

    store = storage.open(journal_root(storage.location), [event.dag_id])
    for part, result in results:
        record_sent(store, event, part, result, notifier.log)


def _note(outcome: AlertOutcome) -> tuple[str, ...]:
    return outcome.low_credit.forms if outcome.low_credit is not None else ()
