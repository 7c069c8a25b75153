"""A compact set of phone numbers, for de-duplicating million-recipient lists in bounded memory.

A Python ``set`` of wire strings costs about 90 bytes per number (the string object plus its hash slot):
90 MB for a million recipients, held during a whole send. This set keeps each number as one 64-bit
integer in sorted ``array('q')`` runs (8 bytes each) behind a small ``set`` buffer, like a tiny
log-structured merge tree: inserts go to the buffer; a full buffer is sorted into a run; runs are merged
so that at most a few exist. Look-ups check the buffer, then binary-search each run.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left

_BUFFER = 1 << 16
_MAX_RUNS = 4


def number_key(wire: str) -> int:
    """A unique integer for a wire number: its digits, times two, plus one when written with a leading
    0 (the national form), so ``0612345678`` and ``612345678`` never collide."""
    return int(wire) * 2 + (wire[:1] == "0")


class NumberSet:
    """Add and test phone numbers (wire form, digits only) in about 8 bytes each."""

    def __init__(self, buffer_size: int = _BUFFER, max_runs: int = _MAX_RUNS) -> None:
        self._buffer: set[int] = set()
        self._runs: list[array[int]] = []
        self._buffer_size = buffer_size
        self._max_runs = max_runs

    def __len__(self) -> int:
        return len(self._buffer) + sum(len(run) for run in self._runs)

    def __contains__(self, wire: object) -> bool:
        if not isinstance(wire, str):
            return False
        key = number_key(wire)
        if key in self._buffer:
            return True
        for run in self._runs:
            i = bisect_left(run, key)
            if i < len(run) and run[i] == key:
                return True
        return False

    def add(self, wire: str) -> None:
        """Add ``wire`` (callers test membership first, so a number is never stored twice)."""
        self._buffer.add(number_key(wire))
        if len(self._buffer) >= self._buffer_size:
            self._runs.append(array("q", sorted(self._buffer)))
            self._buffer = set()
            if len(self._runs) > self._max_runs:
                self._runs = [array("q", heapq.merge(*self._runs))]
