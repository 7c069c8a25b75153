"""The compact number set behaves exactly like a set of wire numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_isendpro.sms.numberset import NumberSet, number_key

wires = st.one_of(
    st.from_regex(r"0[67][0-9]{8}", fullmatch=True),
    st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True),
)


def test_national_and_international_digits_never_collide() -> None:
    assert number_key("0612345678") != number_key("612345678")
    numbers = NumberSet()
    numbers.add("0612345678")
    assert "0612345678" in numbers
    assert "612345678" not in numbers
    assert 612345678 not in numbers


def test_full_buffers_become_runs_and_runs_merge() -> None:
    numbers = NumberSet(buffer_size=2, max_runs=2)
    wires = [f"06{n:08d}" for n in range(7)]
    for wire in wires:
        numbers.add(wire)
    # 7 numbers: three buffers of 2 became runs, the third run merged them into one; 1 left in the buffer
    assert len(numbers._runs) == 1 and len(numbers._runs[0]) == 6 and len(numbers._buffer) == 1
    assert all(w in numbers for w in wires) and "0600000007" not in numbers
    assert len(numbers) == 7


@settings(max_examples=60)
@given(st.lists(wires, max_size=300), st.lists(wires, max_size=50))
def test_matches_a_plain_set_across_buffer_flushes_and_merges(added: list[str], probes: list[str]) -> None:
    compact, reference = NumberSet(buffer_size=4, max_runs=2), set()
    for wire in added:
        if wire not in compact:
            assert wire not in reference
            compact.add(wire)
            reference.add(wire)
        else:
            assert wire in reference
    assert len(compact) == len(reference)
    for wire in [*added, *probes]:
        assert (wire in compact) == (wire in reference)
