"""The plan of a send, written to an anonymous temporary file by the checking pass and read back to send.

Sending exactly the messages that were checked matters: re-rendering in a second pass could produce
other texts (a template calling ``now()``, a file appended to meanwhile). Reading the plan back is also
several times cheaper than planning it again, and memory stays bounded by one batch.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from airflow_provider_isendpro.sending.plan import Planned, Unplanned

Entry = list[Planned] | Unplanned


def _pack(entry: Entry) -> tuple[Any, ...]:
    """Plain tuples pickle several times faster than dataclasses; each distinct message is kept once."""
    if isinstance(entry, Unplanned):
        return ("u", entry.index, entry.raw, entry.status, entry.reason)
    messages: dict[int, int] = {}
    texts: list[tuple[Any, ...]] = []
    rows = []
    for p in entry:
        slot = messages.get(id(p.message))
        if slot is None:
            slot = messages[id(p.message)] = len(texts)
            m = p.message
            texts.append((m.text, m.encoding, m.ucs2, m.units, m.segments, m.smslong, m.replaced))
        n = p.number
        rows.append((p.index, n.raw, n.e164, n.wire, n.region, n.metropolitan, n.kind, slot, p.tracker))
    return ("b", texts, rows)


def _unpack(data: tuple[Any, ...]) -> Entry:
    from airflow_provider_isendpro.sms import PhoneNumber, PreparedMessage

    if data[0] == "u":
        return Unplanned(*data[1:])
    messages = [PreparedMessage(*m) for m in data[1]]
    return [Planned(r[0], PhoneNumber(*r[1:7]), messages[r[7]], r[8]) for r in data[2]]


class PlanSpool:
    """Append-then-read storage of planned batches and unplanned recipients, in order.

    The file is private to this process (``tempfile.TemporaryFile``: unlinked at creation), so pickle
    only ever reads back what this process wrote.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="isendpro-plan-")  # noqa: SIM115 (closed in __exit__)

    def write(self, entry: Entry) -> None:
        pickle.dump(_pack(entry), self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def __iter__(self) -> Iterator[Entry]:
        self._file.flush()
        self._file.seek(0)
        while True:
            try:
                data = pickle.load(self._file)  # noqa: S301 (our own private temporary file)
            except EOFError:
                return
            yield _unpack(data)

    def __enter__(self) -> PlanSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()
