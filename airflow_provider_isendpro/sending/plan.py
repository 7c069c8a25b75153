"""Turning recipients into the exact messages to send: normalised, de-duplicated, rendered, counted.

Everything here runs before the first request, so bad input fails fast and nothing is half-sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sending.sources import SourceItem

if TYPE_CHECKING:
    from airflow_provider_isendpro.sms import PhoneNumber, PreparedMessage

#: Renders the text for one recipient from its row's fields (None for plain numbers).
Renderer = Callable[[Mapping[str, Any] | None], str]


def tracker_for(scope: str, wire: str, text: str) -> str:
    """A deterministic tracker: the same task instance, number and text give the same id on every try.

    24 hex characters (96 bits): alphanumeric and under iSendPro's 50-character limit.
    """
    return hashlib.sha256(f"{scope}\x1f{wire}\x1f{text}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Planned:
    """A recipient ready to send."""

    index: int
    number: PhoneNumber
    message: PreparedMessage
    tracker: str


@dataclass(frozen=True, slots=True)
class Unplanned:
    """A recipient that will not be sent: ``invalid`` (with the reason) or ``duplicate``."""

    index: int
    raw: str
    status: str
    reason: str


@dataclass(frozen=True)
class MessageRules:
    """How texts are checked and numbers read, the same for every recipient of a send."""

    sender: str | None = None
    nostop: bool = False
    max_segments: int = 6
    transliterate: bool = False
    region: str = "FR"
    strict: bool = True
    allow_landline: bool = False
    ucs2_overseas: bool = False


class Planner:
    """Plans a send: each input item becomes one :class:`Planned` or one :class:`Unplanned`, in order.

    With a shared text (``personalised=False``), the text is rendered and checked once per encoding
    policy; personalised texts are rendered and checked per recipient, and a text that breaks a rule
    makes that recipient invalid (with the reason), not the whole send.
    """

    def __init__(self, render: Renderer, *, personalised: bool, rules: MessageRules, scope: str) -> None:
        self.render = render
        self.personalised = personalised
        self.rules = rules
        self.scope = scope
        self._shared: dict[bool, PreparedMessage] = {}

    def _prepare(self, text: str, gsm_only: bool, region: str = "FR") -> PreparedMessage:
        from airflow_provider_isendpro.sms import prepare_message

        rules = self.rules
        return prepare_message(
            text,
            metropolitan=gsm_only,
            region=region,
            transliterate=rules.transliterate,
            stop_suffix=rules.sender is not None and not rules.nostop,
            max_segments=rules.max_segments,
        )

    def shared_message(self, gsm_only: bool, region: str = "FR") -> PreparedMessage:
        """The shared text, prepared once per encoding policy; a rule it breaks fails the whole send.

        ``region`` (of the first number needing this policy) only words the error.
        """
        if gsm_only not in self._shared:
            self._shared[gsm_only] = self._prepare(self.render(None), gsm_only, region)
        return self._shared[gsm_only]

    def plan(self, items: Iterator[SourceItem]) -> Iterator[Planned | Unplanned]:
        from airflow_provider_isendpro.sms import NumberCheck, normalise_numbers

        current: list[Mapping[str, Any] | None] = [None]

        def numbers() -> Iterator[str]:
            for raw, fields in items:
                current[0] = fields
                yield raw

        rules = self.rules
        outcomes = normalise_numbers(
            numbers(), region=rules.region, strict=rules.strict, allow_landline=rules.allow_landline
        )
        for outcome in outcomes:
            if outcome.status is NumberCheck.INVALID:
                yield Unplanned(outcome.index, outcome.raw, "invalid", _reason(outcome.error))
                continue
            if outcome.status is NumberCheck.DUPLICATE:
                assert outcome.number is not None
                yield Unplanned(
                    outcome.index,
                    outcome.raw,
                    "duplicate",
                    f"same number as an earlier row ({outcome.number.wire})",
                )
                continue
            number = outcome.number
            assert number is not None
            gsm_only = number.gsm_only_for(ucs2_overseas=rules.ucs2_overseas)
            try:
                if self.personalised:
                    message = self._prepare(self.render(current[0]), gsm_only, number.region)
                else:
                    message = self.shared_message(gsm_only, number.region)
            except IsendproValidationError as exc:
                if not self.personalised:
                    raise
                yield Unplanned(outcome.index, outcome.raw, "invalid", _reason(exc))
                continue
            yield Planned(outcome.index, number, message, tracker_for(self.scope, number.wire, message.text))


def _reason(error: IsendproValidationError | None) -> str:
    return "invalid" if error is None else str(error)


def batches(planned: Iterator[Planned | Unplanned], size: int) -> Iterator[list[Planned] | Unplanned]:
    """Group planned recipients into batches of at most ``size``; unplanned items pass straight through.

    ``ucs2`` is one flag per request, so GSM-7 and UCS-2 messages never share a batch: two batches are
    filled side by side and each is released when full (and at the end), in a deterministic order.
    """
    if size < 1:
        raise IsendproValidationError(field="batch_size", value=size, rule="must be at least 1")
    open_batches: dict[bool, list[Planned]] = {}
    for item in planned:
        if isinstance(item, Unplanned):
            yield item
            continue
        batch = open_batches.setdefault(item.message.ucs2, [])
        batch.append(item)
        if len(batch) >= size:
            yield batch
            open_batches[item.message.ucs2] = []
    for ucs2 in sorted(open_batches):
        if open_batches[ucs2]:
            yield open_batches[ucs2]
