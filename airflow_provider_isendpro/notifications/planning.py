"""Turning one rendered notifier and one alert event into the sends it makes: numbers, sender, text.

Pure planning, no request: the recipients the ``to`` field names (invalid ones logged and skipped), the
sender iSendPro would accept, the text fitted to the budget, one tracker per number, and, with the
throttle, one send per distinct held-back summary. Every function takes the notifier *rendered for this
callback* (a copy, see :mod:`~airflow_provider_isendpro.notifications.rendering`) and reads its options.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications.fallback import AlertNotBuilt
from airflow_provider_isendpro.notifications.text import (
    MIN_DETAIL_WITH_LINK,
    AlertPlan,
    default_alert_text,
    redact,
    split_recipients,
    with_note,
    with_summary,
)
from airflow_provider_isendpro.notifications.throttle import summary_forms

if TYPE_CHECKING:
    from airflow_provider_isendpro.notifications.event import AlertEvent
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier
    from airflow_provider_isendpro.notifications.throttle import Admission, ThrottleGate
    from airflow_provider_isendpro.sms import PhoneNumber


def numbers(notifier: IsendproNotifier) -> list[PhoneNumber]:
    """The distinct valid numbers of ``to``; invalid ones are logged and skipped, none at all aborts."""
    from airflow_provider_isendpro.sms import mask_number, normalise_number

    found: dict[str, PhoneNumber] = {}
    for raw in split_recipients(notifier.to):
        try:
            number = normalise_number(raw)
        except IsendproValidationError as exc:
            digits = "".join(c for c in raw if c.isdigit())
            notifier.log.error(
                "iSendPro alert: skipping invalid number %s: %s", mask_number(digits), exc.rule
            )
            continue
        found.setdefault(number.wire, number)
    if not found:
        notifier.log.error("iSendPro alert NOT sent: no valid phone number in 'to'")
        raise AlertNotBuilt
    return list(found.values())


def sender(notifier: IsendproNotifier, default: str | None) -> str | None:
    """The notifier's sender, else the connection's; an invalid one is logged and left out."""
    from airflow_provider_isendpro.sms import validate_sender

    chosen = notifier.sender if notifier.sender not in (None, "") else default
    if chosen in (None, ""):
        return None
    try:
        return validate_sender(str(chosen))
    except IsendproValidationError as exc:
        notifier.log.error(
            "iSendPro alert: sender %r is invalid (%s); sending without a custom sender", chosen, exc.rule
        )
        return None


def plan(
    notifier: IsendproNotifier, event: AlertEvent, default_sender: str | None, note: Sequence[str] = ()
) -> AlertPlan:
    """The alert to every number, without any held-back summary (what de-duplication tracks).

    ``note``: the alert's last words when the credit is low (its forms, longest first)."""
    found = numbers(notifier)
    chosen = sender(notifier, default_sender)
    key = event.dedupe_key([n.wire for n in found]) if notifier.dedupe else None
    body = text(notifier, event, found, chosen, (), note=note)
    label = key or hashlib.sha256(body.encode()).hexdigest()[:32]
    trackers = [f"alert{label[:24]}{i:02d}" for i in range(len(found))]
    return AlertPlan(numbers=found, text=body, sender=chosen, trackers=trackers, key=key, note=tuple(note))


def text(
    notifier: IsendproNotifier,
    event: AlertEvent,
    found: list[PhoneNumber],
    chosen_sender: str | None,
    held: Sequence[str],
    *,
    note: Sequence[str] = (),
) -> str:
    """The alert's text for these numbers: the default or the user's, sendable and fitted, with the
    throttle's ``held`` summary and then the ``note`` (see :func:`~.text.with_note`) when they fit."""
    from airflow_provider_isendpro.sms.fit import fit_message, make_sendable

    stop_suffix = chosen_sender is not None and not notifier.nostop
    gsm_only = any(n.gsm_only_for(ucs2_overseas=notifier.ucs2_overseas) for n in found)
    segments = notifier.max_segments
    if notifier.text is None or not str(notifier.text).strip():
        return default_alert_text(
            event, max_segments=segments, stop_suffix=stop_suffix, gsm_only=gsm_only,
            include_link=notifier.include_link, held=held, note=note,
        )  # fmt: skip
    body = make_sendable(redact(str(notifier.text)), gsm_only=gsm_only)
    keep = min(len(body), MIN_DETAIL_WITH_LINK)

    def build(tail: str) -> str:
        if held:
            return with_summary(
                body, held, keep=keep, max_segments=segments, stop_suffix=stop_suffix, tail=tail
            )
        return fit_message(body, max_segments=segments, stop_suffix=stop_suffix, suffix=tail)

    return with_note(build, note, body[:keep])


def should_skip(notifier: IsendproNotifier, event: AlertEvent) -> bool:
    """``only_on_final_failure`` and a try that will be retried: no alert (logged)."""
    if notifier.only_on_final_failure and event.will_retry:
        notifier.log.info(
            "iSendPro alert skipped: %s.%s try %s will be retried (only_on_final_failure=True)",
            event.dag_id, event.task_id, event.try_number,
        )  # fmt: skip
        return True
    return False


def groups(
    notifier: IsendproNotifier, gate: ThrottleGate | None, event: AlertEvent, full: AlertPlan
) -> list[tuple[AlertPlan, list[Admission]]]:
    """The sends this alert makes: one per distinct held-back summary among the numbers the
    throttle lets through (usually one; none when every number is held)."""
    if gate is None:
        return [(full, [])]
    admissions = gate.admit(full, event)
    by_summary: dict[tuple[str, ...], list[int]] = {}
    for i, admission in enumerate(admissions):
        if admission.send:
            by_summary.setdefault(tuple(summary_forms(admission.held)), []).append(i)
    sends = []
    for forms, indexes in by_summary.items():
        members = [full.numbers[i] for i in indexes]
        sends.append(
            (
                AlertPlan(
                    numbers=members,
                    text=(
                        text(notifier, event, members, full.sender, forms, note=full.note)
                        if forms
                        else full.text
                    ),
                    sender=full.sender,
                    trackers=[full.trackers[i] for i in indexes],
                    key=full.key,
                    note=full.note,
                ),
                [admissions[i] for i in indexes],
            )
        )
    return sends
