"""Sending planned batches exactly once: intent first, fence check second, request third, accounting always.

For each batch: if the ledger already knows it (an earlier try), report what it knows and send nothing;
otherwise record the intent (``pending``), *then* check the fence (:mod:`.fencing`: has a newer try
claimed the send?), *then* send, and record the outcome. That order is what makes a frozen older try
harmless: either the newer try's reading of the ledger sees the older try's ``pending`` (and never resends
that batch), or the older try's check sees the newer claim (and stops, recording ``void``: it did not
send). A batch whose outcome is unknown (timeout after the request left, or a worker that died
mid-request) is never resent automatically; the send goes on with the next batch (the task fails at the
end when ``on_unknown="fail"``), unless ``_DOUBTFUL_IN_A_ROW`` batches in a row end in doubt (iSendPro is
not answering). Any other error stops sending, and so does a newer try's claim; the remaining recipients
are still accounted for (``not_sent``, with the reason). Every batch ends in exactly one ``batches``
bucket: ``sent`` (requested by this try), ``from_ledger`` (sent by an earlier try), ``unknown`` (in
doubt, now or since an earlier try) or ``not_sent``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_isendpro.errors import (
    IsendproError,
    IsendproRecipientError,
    IsendproUnknownOutcomeError,
)
from airflow_provider_isendpro.sending.ledger import BatchRecord, Ledger, State, fingerprint
from airflow_provider_isendpro.sending.plan import Planned, Unplanned
from airflow_provider_isendpro.sending.report import SendReport

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import IsendproClient, RecipientStatus, SendResult
    from airflow_provider_isendpro.sms import ScheduledSend

log = logging.getLogger("airflow_provider_isendpro.sending")

#: After this many batches in a row end in doubt, iSendPro is taken to be down and the send stops.
_DOUBTFUL_IN_A_ROW = 3


@dataclass(frozen=True)
class SendOptions:
    """Request options shared by every batch of a send."""

    sender: str | None = None
    nostop: bool = False
    send_at: ScheduledSend | None = None
    sandbox: bool | None = None
    batch_size: int = 500
    resend_unknown: bool = False
    max_rejected_ratio: float | None = None
    single_request: bool = False


def _same_number(tel: str, wire: str) -> bool:
    digits = "".join(c for c in tel if c.isdigit())
    return bool(digits) and digits[-9:] == wire[-9:]


class SendEngine:
    """Sends the batches of one task instance through ``client``, recording them in ``ledger``."""

    def __init__(
        self, client: IsendproClient, ledger: Ledger | None, options: SendOptions, report: SendReport
    ) -> None:
        self.client = client
        self._ledger = ledger
        self.options = options
        self.report = report
        self._batch_no = 0
        self._halted = False
        self._doubtful_in_a_row = 0

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("a SendEngine without a ledger only accounts for a send that never began")
        return self._ledger

    def run(self, entries: Iterable[list[Planned] | Unplanned], *, stop: IsendproError | None = None) -> None:
        """Send every batch in order; raise the first error only after every recipient is accounted for.

        ``stop``: an error met before the first batch (the ledger could not be opened or claimed): nothing
        is sent and every recipient is reported ``not_sent`` with it.

        Requests are strictly sequential: a batch is marked ``pending`` in the ledger, sent, then
        recorded. (A sender thread overlapping requests with bookkeeping was measured and gave no steady
        gain on two cores: the GIL and the ledger's fsync dominate.)
        """
        error = stop
        for entry in entries:
            if isinstance(entry, Unplanned):
                self.report.add(entry.status, entry.index, entry.raw, reason=entry.reason)
                continue
            self._batch_no += 1
            if error is not None or self._halted:
                self._skip(entry, error)
                continue
            batch, settled = self._drop_known(entry)
            if not batch:
                self.report.batches[settled] += 1
                continue
            error = self._send_batch(batch)
        if error is not None:
            raise error

    # -- one batch ------------------------------------------------------------------------------------

    def _send_batch(self, batch: list[Planned]) -> IsendproError | None:
        """Send one batch through the ledger; return the error that stops the send, if any."""
        trackers = [p.tracker for p in batch]
        batch_id = fingerprint(trackers)
        try:
            self._announce(batch_id, trackers)
        except IsendproError as exc:  # superseded by a newer try (or the fence unreadable): not sent
            self._withdraw(batch_id, trackers, exc)
            self._skip(batch, exc)
            return exc
        self.report.requests += 1
        try:
            result = self._request(batch)
        except IsendproUnknownOutcomeError as exc:
            self.ledger.write(BatchRecord(batch_id, "unknown", trackers, reason=exc.message))
            self._account(batch, "unknown", reason=exc.message)
            self.report.batches["unknown"] += 1
            log.error("batch %d: %d recipients, outcome unknown: %s", self._batch_no, len(batch), exc.message)
            self._doubtful_in_a_row += 1
            if self._doubtful_in_a_row >= _DOUBTFUL_IN_A_ROW:
                return exc  # iSendPro is not answering: stop rather than time out on every batch
            return None
        except IsendproError as exc:
            # Refused whole (4xx), rate limited, or never connected: iSendPro carried nothing out.
            self.ledger.forget(batch_id, trackers)
            self._account(batch, "not_sent", reason=f"not sent: {exc.message}")
            self.report.batches["not_sent"] += 1
            return exc
        self._doubtful_in_a_row = 0
        outcomes = self._record(self._batch_no, batch, result)
        self.ledger.write(BatchRecord(batch_id, "done", trackers, outcomes=outcomes))
        self.report.batches["sent"] += 1
        if self._ratio_exceeded():
            self._halted = True
            return self._ratio_error()
        return None

    def _announce(self, batch_id: str, trackers: list[str]) -> None:
        """Record the intent to send the batch, *then* check the fence, in this order (see the module
        docstring): a newer try that does not see this ``pending`` has claimed the send before it was
        written, so the check sees that claim and raises."""
        self.ledger.write(BatchRecord(batch_id, "pending", trackers))
        self.ledger.check()

    def _withdraw(self, batch_id: str, trackers: list[str], why: IsendproError) -> None:
        """After the check refused the batch: record that this try did not send it (``void``), so that a
        later try may. Only ever written once this try has decided not to send, so it never races a newer
        try; if it cannot be written, the ``pending`` stays and later tries read the batch as in doubt."""
        try:
            self.ledger.forget(batch_id, trackers)
        except Exception as exc:  # the store is failing: the batch stays in doubt, which is safe
            log.warning(
                "batch %d: not sent (%s), and could not record so in the ledger (%s): later tries will "
                "read it as in doubt", self._batch_no, why.message, exc,
            )  # fmt: skip

    def _skip(self, batch: list[Planned], error: IsendproError | None) -> None:
        why = f"the send stopped at an error ({error.message})" if error else "the send stopped early"
        self._account(batch, "not_sent", reason=f"not sent: {why}")
        self.report.batches["not_sent"] += 1

    def _drop_known(self, batch: list[Planned]) -> tuple[list[Planned], str]:
        """Report and remove what an earlier try already settled; keep what must (still) be sent.

        Also returns the ``batches`` bucket of a batch left with nothing to send: ``from_ledger`` when an
        earlier try sent all of it, ``unknown`` when some of it is in doubt."""
        if self.ledger.empty:
            return batch, "sent"
        batch_id = fingerprint(p.tracker for p in batch)
        record = self.ledger.get(batch_id)
        if record is not None and record.state == "pending":
            # An older try's open intent, as listed when this try started: it may have withdrawn it (or
            # finished the batch) since. Reading it afresh is safe: see the module docstring.
            record = self.ledger.get(batch_id, fresh=True)
        if record is not None:
            known = [(p, record.state, record.outcomes.get(p.tracker)) for p in batch]
        elif self.ledger.knows(batch_id):  # every earlier intent was withdrawn (void): never sent
            known = []
        else:  # the batch changed shape since the earlier try: settle recipient by recipient
            known = []
            for p in batch:
                found = self.ledger.lookup(p.tracker)
                if found is not None:
                    known.append((p, found[0], found[1]))
        remaining = {p.tracker for p in batch}
        settled = "from_ledger"
        for planned, state, outcome in known:
            if self._report_earlier(planned, state, outcome):
                remaining.discard(planned.tracker)
                if not (state == "done" and outcome is not None):
                    settled = "unknown"
        if len(remaining) < len(batch):
            log.info(
                "batch %d: %d of %d recipients settled by an earlier try (ledger %s)",
                self._batch_no, len(batch) - len(remaining), len(batch), self.ledger.describe(),
            )  # fmt: skip
        return [p for p in batch if p.tracker in remaining], settled

    def _report_earlier(self, planned: Planned, state: State, outcome: tuple[int, int | None] | None) -> bool:
        """Report one recipient from the ledger; False when it must be sent (again) now."""
        wire, tracker = planned.number.wire, planned.tracker
        if state == "done" and outcome is not None:
            code, segments = outcome
            bucket = "already_sent" if code == 0 else "already_rejected"
            self.report.add(bucket, planned.index, wire, tracker=tracker, code=code, segments=segments)
            return True
        if self.options.resend_unknown:
            return False
        self.report.add(
            "unknown", planned.index, wire, tracker=tracker,
            reason="outcome unknown since an earlier try (timeout or interrupted worker); not resent "
            "(set resend_unknown=True to resend, or check the campaign report for this tracker)",
        )  # fmt: skip
        return True

    def _request(self, batch: list[Planned]) -> SendResult:
        o = self.options
        if o.single_request and len(batch) == 1:
            one = batch[0]
            return self.client.send_sms(
                one.number, one.message, tracker=one.tracker,
                sender=o.sender, send_at=o.send_at, nostop=o.nostop, sandbox=o.sandbox,
            )  # fmt: skip
        shared = len({id(p.message) for p in batch}) == 1
        return self.client.send_sms_multi(
            [p.number for p in batch],
            batch[0].message if shared else [p.message for p in batch],
            trackers=[p.tracker for p in batch],
            sender=o.sender, send_at=o.send_at, nostop=o.nostop, sandbox=o.sandbox,
        )  # fmt: skip

    def _record(
        self, number: int, batch: list[Planned], result: SendResult
    ) -> dict[str, tuple[int, int | None]]:
        statuses = self._match(batch, result)
        outcomes: dict[str, tuple[int, int | None]] = {}
        accepted = rejected = 0
        for planned, status in zip(batch, statuses, strict=True):
            wire, tracker = planned.number.wire, planned.tracker
            if status is None:
                self.report.add(
                    "unknown",
                    planned.index,
                    wire,
                    tracker=tracker,
                    reason="no entry for this number in iSendPro's answer",
                )
                continue
            outcomes[tracker] = (status.code, status.segments)
            if status.accepted:
                accepted += 1
                self.report.segments_billed += status.segments or 0
                self.report.add("sent", planned.index, wire, tracker=tracker, segments=status.segments)
            else:
                rejected += 1
                self.report.add(
                    "rejected", planned.index, wire, tracker=tracker, code=status.code, message=status.message
                )
        log.info(
            "batch %d: %d recipients, %d accepted, %d rejected",
            number,
            len(batch),
            accepted,
            rejected,
        )
        return outcomes

    @staticmethod
    def _match(batch: list[Planned], result: SendResult) -> list[RecipientStatus | None]:
        """Pair answers with recipients: by position when they line up, else by number."""
        entries = result.recipients
        if len(entries) == len(batch) and all(
            _same_number(e.number, p.number.wire) for e, p in zip(entries, batch, strict=True)
        ):
            return list(entries)
        pool: dict[str, list[RecipientStatus]] = {}
        for entry in entries:
            digits = "".join(c for c in entry.number if c.isdigit())[-9:]
            pool.setdefault(digits, []).append(entry)
        matched: list[RecipientStatus | None] = []
        for planned in batch:
            queue = pool.get(planned.number.wire[-9:])
            matched.append(queue.pop(0) if queue else None)
        return matched

    def _rejections(self) -> tuple[int, int]:
        """Rejected and attempted recipients over the whole send (earlier tries included)."""
        counts = self.report.counts
        rejected = counts["rejected"] + counts["already_rejected"]
        return rejected, rejected + counts["sent"] + counts["already_sent"]

    def _ratio_exceeded(self) -> bool:
        limit = self.options.max_rejected_ratio
        rejected, attempted = self._rejections()
        return limit is not None and attempted > 0 and rejected / attempted > limit

    def _ratio_error(self) -> IsendproRecipientError:
        rejected, attempted = self._rejections()
        return IsendproRecipientError(
            f"{rejected} of {attempted} recipients rejected by iSendPro "
            f"({rejected / attempted:.0%}), above max_rejected_ratio="
            f"{self.options.max_rejected_ratio:g}: the send was stopped; codes: "
            f"{dict(self.report.rejected_by_code)}"
        )

    def _account(self, batch: list[Planned], bucket: str, *, reason: str) -> None:
        for planned in batch:
            self.report.add(
                bucket, planned.index, planned.number.wire, tracker=planned.tracker, reason=reason
            )
