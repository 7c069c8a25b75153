"""estimate_send: totals and cost of a planned send."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import SendEstimate, estimate_send


def test_totals_without_price() -> None:
    estimate = estimate_send([1, 2, 1])
    assert estimate == SendEstimate(messages=3, segments=4, cost=None)
    assert estimate.to_dict() == {"messages": 3, "segments": 4, "cost": None}


def test_cost_is_exact_in_decimal() -> None:
    assert estimate_send([1, 1, 1], unit_price=0.045).cost == 0.135
    assert estimate_send([2] * 10, unit_price=0.1).cost == 2.0
    assert estimate_send([], unit_price=0.05) == SendEstimate(0, 0, 0.0)
    assert estimate_send([3], unit_price=0).cost == 0.0


def test_streams_a_generator() -> None:
    def counts() -> Iterator[int]:
        yield from (1 for _ in range(100_000))

    assert estimate_send(counts(), unit_price=0.04) == SendEstimate(100_000, 100_000, 4000.0)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2", None])
def test_bad_segment_counts(bad: object) -> None:
    with pytest.raises(IsendproValidationError) as info:
        estimate_send([1, bad])  # type: ignore[list-item]
    assert info.value.field == "segments_per_message"
    assert str(info.value) == (
        f"segments_per_message={bad!r}: entry 1 must be a whole number of segments, at least 1"
    )


@pytest.mark.parametrize("bad", [-0.01, float("nan"), True, "0.05"])
def test_bad_price(bad: object) -> None:
    with pytest.raises(IsendproValidationError) as info:
        estimate_send([1], unit_price=bad)  # type: ignore[arg-type]
    assert info.value.field == "unit_price"
    assert "must be a non-negative number: the price of one SMS segment" in str(info.value)
