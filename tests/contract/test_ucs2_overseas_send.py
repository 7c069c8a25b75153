"""``ucs2_overseas`` on the bulk send path: the planner the operator (and notifier) use, and
``SendSmsOperator`` end to end under ``dag.test()`` against the emulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.operators.sms import SendSmsOperator
from airflow_provider_isendpro.sending.plan import MessageRules, Planned, Planner, Unplanned, batches
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import task_states, xcom_value

TEXT = "Noël à l’île"  # ë, ’ and î are not GSM-7; à is
GSM_TEXT = "Noel à l'ile"
NUMBERS = ["0692123456", "0612345678", "+447911123456"]


def plan(numbers: list[str], text: str, **rules: Any) -> list[Planned | Unplanned]:
    planner = Planner(lambda _row: text, personalised=False, rules=MessageRules(**rules), scope="t")
    return list(planner.plan(iter((n, None) for n in numbers)))


def summary(items: list[Planned | Unplanned]) -> list[tuple[str, str, bool]]:
    return [(p.number.wire, p.message.text, p.message.ucs2) for p in items if isinstance(p, Planned)]


def test_planner_default_keeps_overseas_gsm() -> None:
    items = plan(NUMBERS, TEXT, transliterate=True)
    assert summary(items) == [
        ("262692123456", GSM_TEXT, False),
        ("0612345678", GSM_TEXT, False),
        ("447911123456", TEXT, True),
    ]


def test_planner_ucs2_overseas() -> None:
    items = plan(NUMBERS, TEXT, transliterate=True, ucs2_overseas=True)
    assert summary(items) == [
        ("262692123456", TEXT, True),
        ("0612345678", GSM_TEXT, False),
        ("447911123456", TEXT, True),
    ]
    # ucs2 is one flag per request: the GSM and UCS-2 recipients go in separate batches.
    grouped = [[p.number.wire for p in b] for b in batches(iter(items), 10) if isinstance(b, list)]
    assert grouped == [["0612345678"], ["262692123456", "447911123456"]]


def test_planner_refusal_names_the_region() -> None:
    with pytest.raises(IsendproValidationError, match=r"the number is in Réunion \(RE\), a French overseas"):
        plan(["0692123456"], "Привет")
    assert summary(plan(["0692123456"], "Привет", ucs2_overseas=True)) == [("262692123456", "Привет", True)]


# --------------------------------------------------------------------------------------------------
# SendSmsOperator under dag.test()

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "ledger")


@pytest.mark.integration
@pytest.mark.parametrize("ucs2_overseas", [False, True])
def test_operator_ucs2_overseas(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str, ucs2_overseas: bool
) -> None:
    from airflow.sdk import DAG

    with DAG(f"ucs2_overseas_{ucs2_overseas}", schedule=None, start_date=START, catchup=False) as dag:
        SendSmsOperator(
            task_id="send", recipients=NUMBERS, text=TEXT, transliterate=True, ucs2_overseas=ucs2_overseas,
            ledger_path=ledger, retry_delay=dt.timedelta(0),
        )  # fmt: skip
    run = run_dag(dag)

    assert task_states(run) == {"send": "success"}
    assert xcom_value(run, "send")["counts"]["sent"] == 3
    reunion = (TEXT, "UCS-2") if ucs2_overseas else (GSM_TEXT, "GSM-7")
    assert sorted((s.tel, s.text, s.encoding) for s in isendpro_emulator.sent) == sorted(
        [("262692123456", *reunion), ("0612345678", GSM_TEXT, "GSM-7"), ("447911123456", TEXT, "UCS-2")]
    )
    # No request carried ucs2 to the metropolitan number.
    for request in isendpro_emulator.requests:
        if request.body.get("ucs2") == "1":
            assert "0612345678" not in request.body["num"]
