"""The alert's words: the default text, fitted to its SMS budget, and the recipients it goes to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_isendpro.errors import IsendproValidationError

if TYPE_CHECKING:
    from airflow_provider_isendpro.notifications.event import AlertEvent
    from airflow_provider_isendpro.sms import PhoneNumber

#: With the default text, the log link is kept only if at least this many characters of the error
#: message survive next to it: on a phone, the reason matters more than the link.
MIN_DETAIL_WITH_LINK: Final = 40


def default_alert_text(
    event: AlertEvent,
    *,
    max_segments: int = 1,
    stop_suffix: bool = False,
    gsm_only: bool = True,
    include_link: bool = True,
    held: Sequence[str] = (),
    note: Sequence[str] = (),
) -> str:
    """The default message: ``[Airflow] <dag>.<task> failed (try n/N) at <time>: <error> <link>``.

    The headline is kept whole, the error summary is shortened to fit, and the link (task log for task
    callbacks, the run for DAG callbacks and deadlines) is kept only if it fits whole next to at least
    :data:`MIN_DETAIL_WITH_LINK` characters of the error. ``held``: the throttle's summary of the
    alerts held back (its forms, most detailed first, see
    :func:`~airflow_provider_isendpro.notifications.throttle.summary_forms`); it replaces the link.
    ``note``: the alert's last words (a low credit's forms, most detailed first), see :func:`with_note`:
    kept only next to the headline and that much of the error.
    """
    from airflow_provider_isendpro.sms.fit import make_sendable

    head = make_sendable(redact(event.headline()), gsm_only=gsm_only)
    detail = make_sendable(redact(event.detail), gsm_only=gsm_only)
    body = f"{head}: {detail}" if detail else head
    link = " " + make_sendable(event.url, gsm_only=True) if include_link and event.url else ""
    essential = body[: len(head) + 2 + min(len(detail), MIN_DETAIL_WITH_LINK)].rstrip() if detail else head

    def build(tail: str) -> str:
        return _fit_default(
            body, len(head), detail, link, held=held, tail=tail, max_segments=max_segments,
            stop_suffix=stop_suffix,
        )  # fmt: skip

    return with_note(build, note, essential)


def _fit_default(
    body: str,
    head_length: int,
    detail: str,
    link: str,
    *,
    held: Sequence[str],
    tail: str,
    max_segments: int,
    stop_suffix: bool,
) -> str:
    """:func:`default_alert_text`'s fitting, with ``tail`` kept whole at the very end."""
    from airflow_provider_isendpro.sms.fit import ELLIPSIS, fit_message

    if held:
        return with_summary(
            body, held, keep=head_length, max_segments=max_segments, stop_suffix=stop_suffix, tail=tail
        )
    if link:
        try:
            candidate = fit_message(
                body, max_segments=max_segments, stop_suffix=stop_suffix, suffix=link + tail
            )
        except IsendproValidationError:  # the link alone does not fit
            candidate = ""
        if candidate == body + link + tail:
            return candidate
        kept = candidate[: -len(ELLIPSIS + link + tail)] if candidate else ""
        if len(kept) >= head_length + 2 + min(len(detail), MIN_DETAIL_WITH_LINK):
            return candidate
    return fit_message(body, max_segments=max_segments, stop_suffix=stop_suffix, suffix=tail)


def with_summary(
    body: str,
    forms: Sequence[str],
    *,
    keep: int,
    max_segments: int,
    stop_suffix: bool,
    tail: str = "",
) -> str:
    """``body`` plus the first summary form that fits whole with at least ``keep`` characters of
    ``body`` before it (the body is shortened at a safe boundary; the summary never is), then ``tail``."""
    from airflow_provider_isendpro.sms.fit import fit_message

    for form in forms:
        try:
            candidate = fit_message(
                body, max_segments=max_segments, stop_suffix=stop_suffix, suffix=" " + form + tail
            )
        except IsendproValidationError:  # the summary alone does not fit
            continue
        if candidate.startswith(body[:keep]):
            return candidate
    return fit_message(f"{body} {forms[-1]}", max_segments=max_segments, stop_suffix=stop_suffix, suffix=tail)


def with_note(build: Callable[[str], str], note: Sequence[str], essential: str) -> str:
    """``build(" " + form)`` for the first form of ``note`` that keeps ``essential`` (the start of the
    alert that must survive whole) and itself whole at the end; else ``build("")``: the alert without
    its note, which never costs the alert its budget or its essentials."""
    for form in note:
        try:
            candidate = build(" " + form)
        except IsendproValidationError:  # the note alone does not fit
            continue
        if candidate.startswith(essential) and candidate.endswith(" " + form):
            return candidate
    return build("")


def redact(text: str) -> str:
    """Replace every secret Airflow knows (connection passwords...) by ``***``: SMS leave the company."""
    from airflow.sdk.log import redact

    return str(redact(text))


def split_recipients(value: Any) -> list[str]:
    """``"06 12 34 56 78, +33 6 98 76 54 32"`` or a list -> one string per number (spaces kept)."""
    items = [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for item in items:
        for part in str(item).replace(";", ",").split(","):
            # strip() also undoes a list rendered to a string ("['06 12 34 56 78', ...]")
            number = part.strip(" \t\n[]'\"")
            if number:
                out.append(number)
    return out


@dataclass(frozen=True)
class AlertPlan:
    """One ready-to-send alert: normalised numbers, final text, one tracker per number."""

    numbers: list[PhoneNumber]
    text: str
    sender: str | None
    trackers: list[str]
    key: str | None
    #: the alert's last words when the credit is low (forms, longest first; empty: none)
    note: tuple[str, ...] = ()

    @property
    def masked(self) -> str:
        from airflow_provider_isendpro.sms import mask_number

        return ", ".join(mask_number(n.wire) for n in self.numbers)
