"""The alert digest: send now what the throttle has held back and no SMS has listed yet.

A storm that ends inside a throttle window leaves its held alerts unreported until the next alert for
that recipient, which may come days later. :func:`send_alert_digest` (and its operator,
:class:`~airflow_provider_isendpro.operators.alert_digest.IsendproAlertDigestOperator`, as a DAG's final
task or on its own schedule) claims those held alerts exactly like the next window's first alert would
(an atomic report record, so an alert and a digest racing never list the same alert twice) and texts::

    [Airflow] alert digest, DAG etl: (37 held back since 03:02: etl.load[0-35], etl.report)

Nothing held back: nothing is sent. It does not open a throttle window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications.text import AlertPlan, redact, split_recipients, with_summary
from airflow_provider_isendpro.notifications.throttle import (
    Admission,
    ThrottleGate,
    check_scope,
    summary_forms,
)

if TYPE_CHECKING:
    from airflow_provider_isendpro.sms import PhoneNumber


def digest_headline(scope: str, dag_id: str) -> str:
    where = {"dag": f"DAG {dag_id}", "global": "all DAGs"}.get(scope, scope)
    return f"[Airflow] alert digest, {where}:"


def send_alert_digest(
    to: str | Sequence[str],
    *,
    dag_id: str,
    throttle_scope: str = "dag",
    isendpro_conn_id: str = "isendpro_default",
    sender: str | None = None,
    nostop: bool = False,
    max_segments: int = 1,
    ledger_path: str | None = None,
    ledger_conn_id: str | None = None,
    log: Any = None,
    ucs2_overseas: bool = False,
) -> dict[str, Any]:
    """Text each recipient the alerts held back for it in ``throttle_scope`` and not yet listed.

    Use the same ``to``, ``throttle_scope``, ``ledger_path`` and ``ledger_conn_id`` as the notifiers
    whose alerts it reports. A connection's default sender that iSendPro would refuse is logged and left
    out, as the notifier does; ``ucs2_overseas`` as for the notifier.

    Returns ``{"held": {masked number: count}, "sent": [masked numbers],
    "texts": [...]}``.

    :raises IsendproConfigError: a local-disk ledger under a remote executor (nothing is sent).
    :raises IsendproError: the send failed (the held alerts stay unlisted, for the next alert or digest).
    """
    import logging

    from airflow_provider_isendpro.hooks.isendpro import IsendproHook
    from airflow_provider_isendpro.sending.location import require_shared_ledger, resolve_ledger
    from airflow_provider_isendpro.sms import mask_number, normalise_number, validate_sender
    from airflow_provider_isendpro.sms.fit import make_sendable

    log = log or logging.getLogger(__name__)
    scope = check_scope(throttle_scope)
    numbers: dict[str, PhoneNumber] = {}
    for raw in split_recipients(to):
        number = normalise_number(raw)
        numbers.setdefault(number.wire, number)
    if not numbers:
        raise IsendproValidationError(field="to", value=to, rule="must hold at least one phone number")
    location = resolve_ledger(ledger_path, ledger_conn_id)
    require_shared_ledger(location, "IsendproAlertDigestOperator")
    gate = ThrottleGate(location, scope, dag_id, 1.0, log)
    claims, held = _claim(gate, numbers)
    hook = IsendproHook(isendpro_conn_id)
    sent: list[str] = []
    texts: list[str] = []
    try:
        chosen = validate_sender(sender) if sender else _default_sender(hook.default_sender, log)
        stop_suffix = chosen is not None and not nostop
        for forms, members in claims.items():
            group = [n for n, _ in members]
            head = make_sendable(
                redact(digest_headline(scope, dag_id)),
                gsm_only=any(n.gsm_only_for(ucs2_overseas=ucs2_overseas) for n in group),
            )
            text = with_summary(
                head, forms, keep=len(head), max_segments=max_segments, stop_suffix=stop_suffix
            )
            label = hashlib.sha256(text.encode()).hexdigest()[:24]
            plan = AlertPlan(group, text, chosen, [f"digest{label}{i:02d}" for i in range(len(group))], None)
            try:
                if len(group) == 1:
                    result = hook.client.send_sms(group[0], text, sender=chosen, tracker=plan.trackers[0],
                                                  nostop=nostop, max_segments=max_segments,
                                                  ucs2_overseas=ucs2_overseas)  # fmt: skip
                else:
                    result = hook.client.send_sms_multi(group, text, sender=chosen, trackers=plan.trackers,
                                                        nostop=nostop, max_segments=max_segments,
                                                        ucs2_overseas=ucs2_overseas)  # fmt: skip
            except BaseException:
                gate.release([a for _, a in members])
                raise
            if not result.accepted:
                gate.release([a for _, a in members])
            sent.extend(mask_number(s.number) for s in result.accepted)
            texts.append(text)
            log.info("iSendPro alert digest sent to %s: %s", plan.masked, text)
    finally:
        hook.close()
    return {"held": held, "sent": sent, "texts": texts}


def _default_sender(default: str | None, log: Any) -> str | None:
    """The connection's sender, or None (logged) when iSendPro would refuse it: the digest still goes."""
    from airflow_provider_isendpro.sms import validate_sender

    if not default:
        return None
    try:
        return validate_sender(default)
    except IsendproValidationError as exc:
        log.error(
            "iSendPro alert digest: the connection's sender %r is invalid (%s); sending without a custom "
            "sender", default, exc.rule,
        )  # fmt: skip
        return None


def _claim(
    gate: ThrottleGate, numbers: dict[str, PhoneNumber]
) -> tuple[dict[tuple[str, ...], list[tuple[PhoneNumber, Admission]]], dict[str, int]]:
    """Claim each number's unlisted held alerts; group the numbers by the summary they will get."""
    from airflow_provider_isendpro.sms import mask_number

    claims: dict[tuple[str, ...], list[tuple[PhoneNumber, Admission]]] = {}
    held: dict[str, int] = {}
    for wire, number in numbers.items():
        throttle = gate.throttle(wire)
        admission = throttle.claim_report()
        held[mask_number(wire)] = len(admission.held)
        if admission.held:
            claims.setdefault(
                tuple(summary_forms(admission.held, prefix="", suffix=" held back")), []
            ).append((number, admission))
            gate.track(throttle, admission)
    return claims, held
