"""The accounting of a send: every input recipient lands in exactly one bucket, and the totals add up.

Per-recipient detail is spooled to a temporary JSON-lines file as it happens (memory stays flat), then
either returned inline (small sends) or copied to a file/object-storage path whose location is returned.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from typing import IO, Any

from airflow_provider_isendpro.sending.results import is_remote

#: Every bucket a recipient can end in. Their counts add up to ``input``. ``not_sent``: the send stopped
#: before this recipient (an error such as an authentication failure, a newer try taking over, the
#: rejection ratio); each such row gives the reason.
BUCKETS = (
    "sent",
    "rejected",
    "invalid",
    "duplicate",
    "already_sent",
    "already_rejected",
    "unknown",
    "not_sent",
)

#: Every bucket a batch can end in; their counts add up to the batches planned.
BATCH_BUCKETS = ("sent", "from_ledger", "unknown", "not_sent")

_encode = json.JSONEncoder(ensure_ascii=False).encode


class SendReport:
    """Counts, segments, and per-recipient detail of one send (one task try)."""

    def __init__(self, *, max_inline: int = 100) -> None:
        self.counts: Counter[str] = Counter({b: 0 for b in BUCKETS})
        self.rejected_by_code: Counter[str] = Counter()
        self.segments_estimated = 0
        self.segments_billed = 0
        self.requests = 0
        #: every planned batch in exactly one of these (see :mod:`.engine`).
        self.batches = Counter({b: 0 for b in BATCH_BUCKETS})
        self.credit_before: dict[str, Any] | None = None
        self.credit_after: dict[str, Any] | None = None
        self.max_inline = max_inline
        self._spool: IO[str] | None = None
        self._lines = 0

    @property
    def total(self) -> int:
        return sum(self.counts[b] for b in BUCKETS)

    def add(self, bucket: str, index: int, number: str, **detail: Any) -> None:
        """Record one recipient's fate (``detail``: tracker, code, message, segments...)."""
        self.counts[bucket] += 1
        if bucket in ("rejected", "already_rejected"):  # codes over the whole send
            self.rejected_by_code[str(detail.get("code"))] += 1
        if self._spool is None:
            fd, _path = tempfile.mkstemp(prefix="isendpro-details-", suffix=".jsonl")
            self._spool = os.fdopen(fd, "w+", encoding="utf-8")
            os.unlink(_path)  # anonymous: removed however the task ends
        row = {"index": index, "number": number, "status": bucket}
        for key, value in detail.items():
            if value is not None:
                row[key] = value
        self._spool.write(_encode(row) + "\n")
        self._lines += 1

    def iter_details(self) -> Any:
        if self._spool is None:
            return iter(())
        self._spool.flush()
        self._spool.seek(0)
        return (json.loads(line) for line in self._spool)

    def export_details(self, destination: str | None, conn_id: str | None = None) -> str | None:
        """Stream the per-recipient detail (JSON lines, in processing order; ``index`` is the input
        position) to ``destination``, a local path or an object-storage URL. Memory stays flat."""
        if destination is None or self._spool is None:
            return None
        self._spool.flush()
        self._spool.seek(0)
        if is_remote(destination):
            from airflow.sdk import ObjectStoragePath

            target = ObjectStoragePath(destination, conn_id=conn_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w") as out:
                shutil.copyfileobj(self._spool, out)
        else:
            path = destination.removeprefix("file://")
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w", encoding="utf-8") as out:
                shutil.copyfileobj(self._spool, out)
        return destination

    def to_dict(
        self, *, details_location: str | None = None, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The XCom value: plain JSON, totals that add up to ``input``, never the API key."""
        result: dict[str, Any] = {
            "input": self.total,
            "counts": {b: self.counts[b] for b in BUCKETS},
            "rejected_by_code": dict(sorted(self.rejected_by_code.items())),
            "segments": {"estimated": self.segments_estimated, "billed": self.segments_billed},
            "requests": self.requests,
            "batches": dict(self.batches),
        }
        if self.credit_before is not None or self.credit_after is not None:
            result["credit"] = {"before": self.credit_before, "after": self.credit_after}
        if self._lines <= self.max_inline:
            result["recipients"] = sorted(self.iter_details(), key=lambda r: r["index"])
        else:
            result["recipients"] = None
            result["details_path"] = details_location
        result.update(extra or {})
        return result

    def __enter__(self) -> SendReport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
