"""Size and price of a planned send, before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_isendpro.errors import IsendproValidationError


@dataclass(frozen=True)
class SendEstimate:
    """Messages, billed segments, and the cost when a unit price (per segment) was given."""

    messages: int
    segments: int
    cost: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "segments": self.segments, "cost": self.cost}


def estimate_send(segments_per_message: Iterable[int], *, unit_price: float | None = None) -> SendEstimate:
    """Sum the segments of every message (one entry per recipient × text), consuming the input once.

    The cost is computed in decimal from the price as written (``0.045`` × 3 = ``0.135``, not
    ``0.13499999999999998``); iSendPro bills each segment as one SMS.
    """
    price: Decimal | None = None
    if unit_price is not None:
        if isinstance(unit_price, bool) or not isinstance(unit_price, int | float) or not unit_price >= 0:
            raise IsendproValidationError(
                field="unit_price",
                value=unit_price,
                rule="must be a non-negative number: the price of one SMS segment",
            )
        price = Decimal(str(unit_price))
    messages = segments = 0
    for count in segments_per_message:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise IsendproValidationError(
                field="segments_per_message",
                value=count,
                rule=f"entry {messages} must be a whole number of segments, at least 1",
            )
        messages += 1
        segments += count
    return SendEstimate(messages, segments, None if price is None else float(price * segments))
