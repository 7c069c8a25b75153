"""One SMS send from start to end: validate everything, apply the guards, then send through the ledger.

Two passes: the first plans every message without any request (so invalid input, the recipient and
segment caps and the credit guard fail before anything is sent) and spools the plan to a private
temporary file; the second reads that exact plan back and sends it. Both stream, so memory stays bounded
by the batch size plus the compact de-duplication set.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_isendpro.errors import (
    IsendproCreditError,
    IsendproError,
    IsendproRecipientError,
    IsendproUnknownOutcomeError,
    IsendproValidationError,
)
from airflow_provider_isendpro.sending.engine import SendEngine, SendOptions
from airflow_provider_isendpro.sending.ledger import Ledger
from airflow_provider_isendpro.sending.plan import Planned, Planner, Unplanned, batches
from airflow_provider_isendpro.sending.report import SendReport
from airflow_provider_isendpro.sending.sources import SourceItem
from airflow_provider_isendpro.sending.spool import PlanSpool

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import IsendproClient

log = logging.getLogger("airflow_provider_isendpro.sending")
_LISTED_INVALID = 50


@dataclass(frozen=True)
class SendPolicy:
    """What to do about bad input, rejections and budgets."""

    on_invalid: Literal["fail", "skip"] = "fail"
    on_rejected: Literal["fail", "warn", "ignore"] = "fail"
    on_unknown: Literal["fail", "warn"] = "fail"
    dry_run: bool = False
    max_recipients: int | None = None
    max_total_segments: int | None = None
    check_credit: bool = False
    unit_price: float | None = None
    max_inline: int = 100


@dataclass
class Survey:
    """The first pass: what would be sent, without sending."""

    input: int = 0
    planned: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)
    invalid_count: int = 0
    duplicate: int = 0
    segments: int = 0
    batches: int = 0
    encodings: Counter[str] = field(default_factory=Counter)
    sample: list[dict[str, Any]] = field(default_factory=list)


def survey(
    planner: Planner,
    items: Iterator[SourceItem],
    *,
    batch_size: int,
    sample: int,
    spool: PlanSpool | None = None,
) -> Survey:
    """Plan every recipient without sending; with ``spool``, keep the plan for the sending pass."""
    result = Survey()
    for entry in batches(planner.plan(items), batch_size):
        if spool is not None:
            spool.write(entry)
        if isinstance(entry, Unplanned):
            result.input += 1
            if entry.status == "invalid":
                result.invalid_count += 1
                if len(result.invalid) < _LISTED_INVALID:
                    result.invalid.append((entry.index, entry.raw, entry.reason))
            else:
                result.duplicate += 1
            continue
        result.batches += 1
        for planned in entry:
            result.input += 1
            result.planned += 1
            result.segments += planned.message.segments
            result.encodings[planned.message.encoding] += 1
            if len(result.sample) < sample:
                result.sample.append(_describe(planned))
    return result


def _describe(planned: Planned) -> dict[str, Any]:
    message = planned.message
    return {
        "index": planned.index,
        "number": planned.number.wire,
        "tracker": planned.tracker,
        "text": message.text,
        "encoding": message.encoding,
        "segments": message.segments,
        "replaced": message.replaced or None,
    }


def _invalid_error(found: Survey) -> IsendproValidationError:
    listed = "; ".join(f"#{i} {raw!r}: {reason}" for i, raw, reason in found.invalid)
    more = found.invalid_count - len(found.invalid)
    return IsendproValidationError(
        f"{found.invalid_count} of {found.input} recipients are invalid and nothing was sent "
        f"(on_invalid='fail'; use on_invalid='skip' to send to the others): {listed}"
        + (f"; and {more} more" if more else ""),
        field="recipients",
        value=found.invalid_count,
        rule="every recipient must be a valid mobile number with a valid text",
    )


def _guards(found: Survey, policy: SendPolicy) -> None:
    if found.invalid_count and policy.on_invalid == "fail":
        raise _invalid_error(found)
    if found.planned == 0:
        raise IsendproValidationError(
            field="recipients",
            value=found.input,
            rule=f"leaves no one to send to ({found.invalid_count} invalid, {found.duplicate} duplicate of "
            f"{found.input})",
        )
    if policy.max_recipients is not None and found.planned > policy.max_recipients:
        raise IsendproValidationError(
            field="recipients",
            value=found.planned,
            rule=f"{found.planned} recipients exceed max_recipients={policy.max_recipients}; "
            "nothing was sent",
        )
    if policy.max_total_segments is not None and found.segments > policy.max_total_segments:
        raise IsendproValidationError(
            field="text",
            value=found.segments,
            rule=f"the send needs {found.segments} SMS segments, more than max_total_segments="
            f"{policy.max_total_segments}; nothing was sent",
        )


def _estimate(found: Survey, unit_price: float | None) -> dict[str, Any]:
    cost = None if unit_price is None else round(found.segments * unit_price, 4)
    return {"segments": found.segments, "unit_price": unit_price, "cost": cost}


def plan_summary(found: Survey, policy: SendPolicy) -> dict[str, Any]:
    """The XCom of a dry run: the plan, and no request made."""
    return {
        "dry_run": True,
        "input": found.input,
        "counts": {"planned": found.planned, "invalid": found.invalid_count, "duplicate": found.duplicate},
        "invalid": [{"index": i, "number": raw, "reason": reason} for i, raw, reason in found.invalid],
        "segments": {"estimated": found.segments},
        "encodings": dict(found.encodings),
        "batches": found.batches,
        "estimate": _estimate(found, policy.unit_price),
        "recipients": found.sample,
    }


@dataclass(frozen=True)
class SendOutcome:
    """The XCom result of a send, and the error that must fail the task (None when it succeeded)."""

    result: dict[str, Any]
    error: IsendproError | None = None


def run_send(
    *,
    client: Callable[[], IsendproClient],
    planner: Planner,
    source: Callable[[], Iterator[SourceItem]],
    options: SendOptions,
    policy: SendPolicy,
    ledger: Callable[[], Ledger],
    details_path: str | None,
    details_conn_id: str | None = None,
) -> SendOutcome:
    """Validate, guard, then send. Invalid input and failed guards raise before anything is sent; errors
    met while sending come back in the outcome, after every recipient has been accounted for.

    ``client`` and ``ledger`` are factories so that a dry run opens neither.
    """
    with PlanSpool() as spool:
        found = survey(
            planner, source(), batch_size=options.batch_size, sample=policy.max_inline,
            spool=None if policy.dry_run else spool,
        )  # fmt: skip
        log.info(
            "planned %d recipients (%d invalid, %d duplicate) in %d batches, %d segments",
            found.planned, found.invalid_count, found.duplicate, found.batches, found.segments,
        )  # fmt: skip
        _guards(found, policy)
        if policy.dry_run:
            return SendOutcome(plan_summary(found, policy))
        api = client()
        with SendReport(max_inline=policy.max_inline) as report:
            report.segments_estimated = found.segments
            if policy.check_credit:
                _credit_guard(api, found, policy, report)
            options = SendOptions(**{**options.__dict__, "single_request": found.planned == 1})
            error: IsendproError | None = None
            book: Ledger | None = None
            try:
                book = ledger()  # claims the send (fencing) before reading what earlier tries did
            except IsendproError as exc:
                error = exc
            try:
                SendEngine(api, book, options, report).run(spool, stop=error)
            except IsendproError as exc:
                error = exc
            finally:
                if book is not None:
                    book.close("" if error is None else f"{type(error).__name__}: {error.message}")
            if policy.check_credit:
                try:
                    report.credit_after = api.get_credit().to_dict()
                except IsendproError as exc:
                    log.warning("could not read the credit after sending: %s", exc.message)
            big = report.total > policy.max_inline
            location = report.export_details(details_path, details_conn_id) if big else None
            result = report.to_dict(details_location=location, extra={"dry_run": False})
        _check_accounting(result, found)
        error = _verdict(result, found, policy, error)
        result["error"] = None if error is None else {"type": type(error).__name__, "message": error.message}
    return SendOutcome(result, error)


def _check_accounting(result: dict[str, Any], found: Survey) -> None:
    """Every recipient in exactly one bucket, every batch in exactly one: a bug otherwise, never a user
    error (checked on every try)."""
    if result["input"] != found.input:
        raise AssertionError(f"accounting lost recipients: {result['input']} accounted of {found.input}")
    if sum(result["batches"].values()) != found.batches:
        raise AssertionError(
            f"accounting lost batches: {result['batches']} accounted of {found.batches} planned"
        )


def _verdict(
    result: dict[str, Any], found: Survey, policy: SendPolicy, error: IsendproError | None
) -> IsendproError | None:
    """The task's outcome over the whole send, earlier tries included (the ledger's ``already_*`` and
    in-doubt recipients count as much as this try's)."""
    counts = result["counts"]
    earlier = counts["already_rejected"]
    rejected = counts["rejected"] + earlier
    unknown = counts["unknown"]
    if unknown:
        where = (
            f"listed in {result['details_path']}"
            if result.get("details_path")
            else "listed in the XCom's 'recipients'"
        )
        log.warning(
            "%d recipients are in doubt (status 'unknown', %s): iSendPro may or may not have sent them, "
            "and they are not resent (on_unknown=%r; resend_unknown=True resends them on the next try, at "
            "the risk of texting them twice; the campaign report tells for sure)",
            unknown, where, policy.on_unknown,
        )  # fmt: skip
        if error is None and policy.on_unknown == "fail":
            error = IsendproUnknownOutcomeError(
                f"{unknown} of {found.planned} recipients are in doubt (status 'unknown', {where}): "
                "iSendPro may or may not have texted them; everyone else was handled. Check the campaign "
                "report, then resend them with resend_unknown=True, or accept it with on_unknown='warn'"
            )
    if error is None and rejected and policy.on_rejected == "fail":
        error = IsendproRecipientError(
            f"iSendPro rejected {rejected} of {found.planned} recipients "
            f"(codes {result['rejected_by_code']}"
            + (f"; {earlier} of them by an earlier try" if earlier else "")
            + "); the others were sent. Use on_rejected='warn' or 'ignore' to let the task succeed"
        )
    elif rejected and policy.on_rejected == "warn":
        log.warning("iSendPro rejected %d recipients (codes %s)", rejected, result["rejected_by_code"])
    return error


def _credit_guard(api: IsendproClient, found: Survey, policy: SendPolicy, report: SendReport) -> None:
    credit = api.get_credit(with_sms_estimate=True)
    report.credit_before = credit.to_dict()
    price = policy.unit_price
    if price is None and credit.sms_estimate:
        price = credit.euros / credit.sms_estimate  # iSendPro's own price of one SMS to France
    if price is None:
        raise IsendproCreditError(
            "check_credit=True but the price of an SMS is unknown (iSendPro gave no SMS estimate): "
            "set unit_price"
        )
    cost = found.segments * price
    if cost > credit.euros:
        raise IsendproCreditError(
            f"the send needs about {cost:.2f} EUR ({found.segments} segments at {price:.4f} EUR) but the "
            f"credit is {credit.euros:.2f} EUR; nothing was sent. Top up the account, or wait for it "
            "with CreditSensor"
        )
