"""Every advice of docs/operators.md's error table works: the error names it, and following it (the
parameter written in the table, exactly) lets the send through, with the SMS the emulator then receives.

The table is read from the docs, so a row added there without a scenario here fails, and so does an
error whose wording drifts from the table or that advises a parameter the operator does not have.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.errors import IsendproError
from airflow_provider_isendpro.operators.sms import SendSmsOperator
from airflow_provider_isendpro.testing import IsendproEmulator

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operators.md"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
METRO, REUNION = "0612345600", "0692123456"


def error_table() -> list[tuple[str, list[str], str]]:
    """``(what the error says, [advised name=value], the whole advice)`` for each row of the table."""
    text = DOCS.read_text(encoding="utf-8")
    body = text.split("<!-- error-table:start -->", 1)[1].split("<!-- error-table:end -->", 1)[0]
    rows = []
    for line in body.strip().splitlines()[2:]:
        says, advice = (cell.strip() for cell in line.strip().strip("|").split("|"))
        fragment = re.findall(r"`([^`]+)`", says)[0]
        rows.append((fragment, re.findall(r"`(\w+=[^`]+)`", advice), advice))
    return rows


@dataclass
class Scenario:
    """A send that fails with the row's error, and what each way of following the advice delivers."""

    kwargs: dict[str, Any]
    #: (tel, text) pairs received after following each advised ``name=value`` (the same for all, unless
    #: ``per_advice`` says otherwise)
    delivered: list[tuple[str, str]]
    per_advice: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: advice in words (not a parameter): the kwargs that follow it
    by_hand: dict[str, Any] | None = None
    #: a parameter the advice must *not* suggest, because it does not help
    useless: dict[str, Any] | None = None
    fault: str | None = None
    #: the advice is followed by the task's next try (same ledger), not by a fresh send
    next_try: bool = False


SCENARIOS: dict[str, Scenario] = {
    "recipients are invalid and nothing was sent": Scenario(
        {"recipients": [METRO, "hello"], "text": "Info"}, [(METRO, "Info")]
    ),
    "is not in an allocated number range": Scenario(
        {"recipients": ["0712345678"], "text": "Info"}, [("0712345678", "Info")]
    ),
    "which usually cannot receive SMS": Scenario(
        {"recipients": ["01 42 34 56 78"], "text": "Info"}, [("0142345678", "Info")]
    ),
    "has characters outside the GSM-7 alphabet": Scenario(
        {"recipients": [METRO], "text": "L’équipe vous remercie"}, [(METRO, "L'équipe vous remercie")]
    ),
    "a French overseas department, which gets GSM-7 text only": Scenario(
        {"recipients": [REUNION], "text": "L’équipe vous remercie"},
        [],
        per_advice={
            "transliterate=True": [("262692123456", "L'équipe vous remercie")],
            "ucs2_overseas=True": [("262692123456", "L’équipe vous remercie")],
        },
    ),
    "has characters with no GSM-7 equivalent": Scenario(
        {"recipients": [REUNION], "text": "Merci 😀"},
        [("262692123456", "Merci 😀")],
        per_advice={"by hand": [("262692123456", "Merci")]},
        by_hand={"text": "Merci"},
        useless={"transliterate": True},
    ),
    "more than the cap of": Scenario(
        {"recipients": [METRO], "text": "a" * 200, "max_segments": 1}, [(METRO, "a" * 200)]
    ),
    "French rules forbid marketing SMS": Scenario(
        # Sunday 6 January 2030, 10:00 in Paris: deferred to Monday 08:00
        {"recipients": [METRO], "text": "Promo", "marketing": True, "send_at": "2030-01-06T10:00:00+01:00"},
        [(METRO, "Promo")],
    ),
    "exceed max_recipients": Scenario(
        {"recipients": [METRO, "0612345601"], "text": "Info", "max_recipients": 1},
        [(METRO, "Info"), ("0612345601", "Info")],
    ),
    "iSendPro rejected": Scenario({"recipients": [METRO, "0600000011"], "text": "Info"}, [(METRO, "Info")]),
    "recipients are in doubt": Scenario(
        {"recipients": [METRO], "text": "Info"},
        [(METRO, "Info")],
        # resend_unknown=True resends on the next try what the first may have sent: twice, the risk it names
        per_advice={"resend_unknown=True": [(METRO, "Info"), (METRO, "Info")]},
        fault="reset_after_accept",
        next_try=True,
    ),
}


def context(op: SendSmsOperator, try_number: int = 1) -> dict[str, Any]:
    """What ``execute`` reads of Airflow's context (the task instance's identity)."""
    ti = SimpleNamespace(map_index=-1, try_number=try_number, hostname="worker-1")
    ti.xcom_push = lambda key, value: None
    return {"ti": ti, "run_id": "manual__advice", "dag": op.dag, "ds": "2026-01-01"}


def send(kwargs: dict[str, Any], ledger: Path, try_number: int = 1) -> dict[str, Any]:
    """Build the task in a DAG, render it and run ``execute`` as Airflow would (no DB needed)."""
    from airflow.sdk import DAG

    with DAG("advice", schedule=None, start_date=START, catchup=False):
        op = SendSmsOperator(task_id="send", ledger_path=str(ledger), **kwargs)
    ctx = context(op, try_number)
    op.render_template_fields(ctx)  # type: ignore[arg-type]
    return op.execute(ctx)  # type: ignore[arg-type]


def parse_advice(advice: str) -> dict[str, Any]:
    name, value = advice.split("=", 1)
    return {name: ast.literal_eval(value)}


ROWS = error_table()


def test_every_row_of_the_table_has_a_scenario() -> None:
    assert [fragment for fragment, _, _ in ROWS] == list(SCENARIOS)


@pytest.mark.parametrize(("fragment", "advised", "advice"), ROWS, ids=[r[0] for r in ROWS])
def test_following_the_advice_resolves_the_error(
    isendpro_emulator: IsendproEmulator,
    tmp_path: Path,
    fragment: str,
    advised: list[str],
    advice: str,
) -> None:
    scenario = SCENARIOS[fragment]
    follow = [(a, parse_advice(a)) for a in advised]
    if scenario.by_hand is not None:
        follow.append(("by hand", scenario.by_hand))
    assert follow, f"the row {fragment!r} advises nothing that can be followed"
    for i, (label, change) in enumerate(follow):
        isendpro_emulator.reset()
        if scenario.fault:
            isendpro_emulator.inject(scenario.fault, path="/sms")
        ledger = tmp_path / f"ledger-{i}"
        with pytest.raises(IsendproError) as err:
            send(scenario.kwargs, ledger)
        message = str(err.value)
        assert fragment in message
        for name in (a.split("=", 1)[0] for a in advised):
            assert f"{name}=" in message, f"the error does not name {name}: {message}"
        if scenario.useless is not None:
            (name,) = scenario.useless
            assert f"{name}=True has no GSM-7 equivalent" in message or f"{name}=" not in message
            with pytest.raises(IsendproError):
                send({**scenario.kwargs, **scenario.useless}, tmp_path / f"useless-{i}")
        isendpro_emulator.clear_faults()
        if not scenario.next_try:  # what the failed send sent (to the valid ones) is not counted below
            isendpro_emulator.reset()
        if scenario.next_try:
            result = send({**scenario.kwargs, **change}, ledger, try_number=2)
        else:
            result = send({**scenario.kwargs, **change}, tmp_path / f"followed-{i}")
        assert result.get("error") is None
        expected = scenario.per_advice.get(label, scenario.delivered)
        assert sorted((s.tel, s.text) for s in isendpro_emulator.sent) == sorted(expected), label
