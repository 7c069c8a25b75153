"""Fuzz targets: one per user-facing entry point, shared by ``test_bad_input_fuzz.py`` and ``bench/fuzz.py``.

Each target draws a :class:`Case` (keyword arguments plus a label, see ``strategies.py``), builds the
operator / sensor / notifier / client call, renders its templates, runs it against the emulator, and
checks the contract:

* the only exception that may come out is ``IsendproValidationError``, whose ``field`` is one of the
  entry point's parameters and is named in its message;
* when it comes out, the emulator received no request and no send ledger was written;
* an ``INVALID`` case is refused, a ``VALID`` one accepted;
* whatever was accepted reached the emulator only in a shape the emulator accepts (every number, sender
  and tracker valid by iSendPro's rules), so no request is refused or answered with an error.

:func:`run_case` returns ``"valid"`` or ``"rejected"``, or raises ``AssertionError`` with the case.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.reliability import strategies as s
from tests.reliability.conftest import KEY, task_context

SEND_PATHS = ("/sms", "/smsmulti")


@dataclass(frozen=True)
class Case:
    kwargs: dict[str, Any]
    label: str


@dataclass
class Env:
    """Where targets run: the emulator (its connection in the environment) and a scratch folder."""

    emu: IsendproEmulator
    tmp: Path

    @property
    def ledger(self) -> Path:
        return self.tmp / "ledger"


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Case]
    run: Callable[[Env, dict[str, Any], dict[str, Any]], Any]
    fields: frozenset[str]  # the parameters a validation error may name


@st.composite
def _case(draw: st.DrawFn, reported: dict[str, frozenset[str]] | None = None, **params: s.Param) -> Case:
    """One input: every parameter valid, or one of them (sometimes all) drawn from its other values.

    The case is invalid if a part is, except for ``reported`` labels of a part: the entry point reports
    those (per number in its result, or in its log) instead of refusing.
    """
    mode = draw(st.sampled_from(["valid", "one", "one", "one", "all"]))
    odd = draw(st.sampled_from(sorted(params))) if mode == "one" else None
    drawn = {}
    for name, param in params.items():
        if mode == "all":
            drawn[name] = draw(param.all)
        else:
            drawn[name] = draw(param.other if name == odd else param.valid)
    reported = reported or {}
    labels = [s.ANY if v.label in reported.get(name, ()) else v.label for name, v in drawn.items()]
    return Case({k: v.value for k, v in drawn.items()}, s.combine(*labels))


PER_NUMBER = frozenset({s.INVALID_ITEMS})  # invalid numbers in a list are reported, one by one
LOGGED = frozenset({s.INVALID, s.INVALID_FR, s.INVALID_ITEMS})  # the notifier logs and carries on
_DEFAULT = object()


def _optional(param: s.Param) -> s.Param:
    """A parameter that may be left out (its default is a valid value)."""
    return s.Param(st.one_of(st.just(s.Labelled(_DEFAULT, s.VALID)), param.valid), param.other)


def _given(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not _DEFAULT}


def _execute(op: Any, context: dict[str, Any]) -> Any:
    op.render_template_fields(context)
    return op.execute(context)


# --------------------------------------------------------------------------------------------------
# Targets


def _send_sms_operator(env: Env, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    op = SendSmsOperator(task_id="fuzz_send", ledger_path=str(env.ledger), **_given(kwargs))
    return _execute(op, context)


def _hlr_operator(env: Env, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    from airflow_provider_isendpro.operators.hlr import HlrLookupOperator

    return _execute(HlrLookupOperator(task_id="fuzz_hlr", **_given(kwargs)), context)


def _credit_sensor(env: Env, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    from airflow_provider_isendpro.sensors.credit import CreditSensor

    sensor = CreditSensor(task_id="fuzz_credit", **_given(kwargs))
    sensor.render_template_fields(context)
    return sensor.poke(context)  # what execute() runs, without the poke loop's real sleeps


def _campaign_report(env: Env, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    from airflow_provider_isendpro.operators.reports import CampaignReportOperator

    start, end = kwargs.pop("range")
    op = CampaignReportOperator(
        task_id="fuzz_report", destination=str(env.tmp / "report.zip"), start=start, end=end, **_given(kwargs)
    )
    return _execute(op, context)


def _blacklist(env: Env, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    from airflow_provider_isendpro.operators.blacklist import BlacklistAddOperator, BlacklistRemoveOperator

    cls = BlacklistAddOperator if kwargs.pop("add") else BlacklistRemoveOperator
    return _execute(cls(task_id="fuzz_blacklist", **_given(kwargs)), context)


def _notifier(env: Env, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    """The notifier must never raise from a callback: only its constructor may refuse input."""
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier

    notifier = IsendproNotifier(ledger_path=str(env.ledger), dedupe=False, **_given(kwargs))
    context = {**context, "exception": ValueError("disk full")}
    notifier(context)
    return None


def _client_send(env: Env, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    """The client's own checks (trackers are only given here: operators derive their own)."""
    from airflow_provider_isendpro.client import AsyncIsendproClient, ClientConfig, IsendproClient

    config = ClientConfig(api_key=KEY, base_url=env.emu.base_url)
    to, text = kwargs.pop("to"), kwargs.pop("text")
    if kwargs.pop("asynchronous"):

        async def main() -> Any:
            async with AsyncIsendproClient(config) as client:
                return await client.send_sms(to, text, **_given(kwargs))

        return asyncio.run(main())
    with IsendproClient(config) as client:
        return client.send_sms(to, text, **_given(kwargs))


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "send_sms_operator",
            _case(
                recipients=s.number_inputs(),
                text=s.texts,
                sender=_optional(s.senders),
                send_at=_optional(s.send_ats),
                batch_size=_optional(s.batch_sizes),
                max_segments=_optional(s.max_segments),
                region=_optional(s.regions),
                max_rejected_ratio=_optional(s.ratios),
                max_recipients=_optional(s.limits),
                max_total_segments=_optional(s.limits),
                unit_price=_optional(s.prices),
                resend_unknown=_optional(s.flags),
            ),
            _send_sms_operator,
            frozenset(
                {
                    "recipients",
                    "text",
                    "sender",
                    "send_at",
                    "batch_size",
                    "max_segments",
                    "region",
                    "max_rejected_ratio",
                    "max_recipients",
                    "max_total_segments",
                    "unit_price",
                    "dry_run",
                    "resend_unknown",
                }
            ),
        ),
        Target(
            "hlr_operator",
            _case(
                {"numbers": PER_NUMBER},
                numbers=s.number_inputs(6),
                batch_size=_optional(s.batch_sizes),
                region=_optional(s.regions),
            ),
            _hlr_operator,
            frozenset({"numbers", "batch_size", "region"}),
        ),
        Target(
            "credit_sensor",
            st.one_of(_case(min_credit=s.thresholds), _case(min_sms=s.sms_thresholds)),
            _credit_sensor,
            frozenset({"min_credit", "min_sms"}),
        ),
        Target(
            "campaign_report",
            _case(range=s.date_ranges, trackers=_optional(s.report_trackers)),
            _campaign_report,
            frozenset({"start", "end", "trackers"}),
        ),
        Target(
            "blacklist",
            _case({"numbers": PER_NUMBER}, numbers=s.number_inputs(3), add=s.fixed(st.booleans())),
            _blacklist,
            frozenset({"numbers"}),
        ),
        Target(
            "notifier",
            _case(
                {"to": LOGGED, "text": LOGGED, "sender": LOGGED},
                to=s.notifier_recipients,
                text=_optional(s.texts),
                sender=_optional(s.senders),
                max_segments=_optional(s.max_segments),
            ),
            _notifier,
            frozenset({"to", "max_segments"}),
        ),
        Target(
            "client_send",
            _case(
                to=s.numbers,
                text=s.texts,
                tracker=_optional(s.trackers),
                sender=_optional(s.client_senders),
                send_at=_optional(s.client_send_ats),
                asynchronous=s.fixed(st.booleans()),
            ),
            _client_send,
            # The client names a bad number "recipient" and a bad send time "when" (tests/client pins it).
            frozenset({"to", "recipient", "text", "tracker", "sender", "send_at", "when"}),
        ),
    )
}


# --------------------------------------------------------------------------------------------------
# The contract


def _ledger_written(env: Env, run_id: str) -> bool:
    return any(env.ledger.glob(f"*/{run_id}")) if env.ledger.exists() else False


def _emulator_accepted_everything(env: Env, target: str) -> None:
    """Whatever reached the emulator was well-formed by iSendPro's rules: every number of a send was
    routed (an invalid one is answered code 21 inside an HTTP 200), every looked-up or blacklisted number
    is one iSendPro can read. (A bad sender, tracker or date makes the emulator refuse the request, which
    surfaces as an ``IsendproApiError``: not a validation error, so the case fails anyway.)"""
    from airflow_provider_isendpro.testing import rules

    requests = env.emu.requests
    sends = [r for r in requests if r.path in SEND_PATHS]
    routed = sum(len(r.body["num"]) if isinstance(r.body["num"], list) else 1 for r in sends)
    assert env.emu.stats["sms_sent"] == routed, (
        f"{target}: iSendPro refused part of {[r.body for r in sends]}"
    )
    for request in requests:
        numbers = request.body.get("num") if request.path == "/hlr" else request.query.get("num")
        for number in numbers if isinstance(numbers, list) else [numbers] if numbers else []:
            assert rules.normalise_number(number) is not None, f"{target}: {number!r} reached {request.path}"


def run_case(target: Target, case: Case, env: Env) -> str:
    """Run one case; ``"valid"`` or ``"rejected"``. Anything else is an ``AssertionError``."""
    env.emu.reset()
    context = task_context()
    kwargs = dict(case.kwargs)
    try:
        target.run(env, kwargs, context)
    except IsendproValidationError as exc:
        message = str(exc)
        assert isinstance(exc.field, str) and exc.field in target.fields, (
            f"{target.name}: field {exc.field!r} is not a parameter: {message}"
        )
        assert message and exc.field in message, f"{target.name}: message does not name {exc.field!r}"
        assert env.emu.requests == [], f"{target.name}: refused, but a request left: {env.emu.requests}"
        assert not _ledger_written(env, context["run_id"]), f"{target.name}: ledger written before refusing"
        assert case.label != s.VALID, f"{target.name}: a valid input was refused: {message}"
        return "rejected"
    assert case.label != s.INVALID, f"{target.name}: an invalid input was accepted: {case.kwargs!r}"
    _emulator_accepted_everything(env, target.name)
    return "valid"


def make_env(emu: IsendproEmulator, tmp: Path) -> Env:
    os.environ["AIRFLOW_CONN_ISENDPRO_DEFAULT"] = (
        f'{{"conn_type": "isendpro", "host": "{emu.base_url}", "password": "{KEY}"}}'
    )
    return Env(emu, tmp)
