"""A dry run is the real send minus the requests: for the same task, across the message shapes of
SMS-FACTS §3.1 (tests/sms_facts.py), the dry run plans the segments iSendPro bills, with the
connection's default sender and its STOP mention, or refuses what the real send refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.operators.sms import SendSmsOperator
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import task_states, xcom_value
from tests.sms_facts import VECTORS

pytestmark = pytest.mark.integration

START = pendulum.datetime(2026, 1, 1, tz="UTC")
#: Every non-empty text of SMS-FACTS' table (an empty text is refused when the operator is built).
SHAPES = [(text, encoding) for text, encoding, _units, _segments in VECTORS if text]
METROPOLITAN, REUNION = "0612345600", "0692123456"
WIRE = {METROPOLITAN: "0612345600", REUNION: "262692123456"}  # as iSendPro receives them


def recipients_for(encoding: str) -> list[str]:
    """GSM-7 text goes to a metropolitan and an overseas number; UCS-2 text only where iSendPro takes it
    (overseas, with ``ucs2_overseas=True``): a metropolitan number gets GSM-7 only."""
    return [METROPOLITAN, REUNION] if encoding == "GSM-7" else [REUNION]


def shapes_dag(dag_id: str, *, dry_run: bool, ledger: str) -> tuple[Any, list[int]]:
    """One task per message shape; also the shapes refused when the DAG file is parsed (a static text
    over the cap even without a STOP mention: the connection's sender is not known then)."""
    from airflow.sdk import DAG

    from airflow_provider_isendpro.errors import IsendproValidationError

    refused = []
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        for i, (text, encoding) in enumerate(SHAPES):
            try:
                SendSmsOperator(
                    task_id=f"shape_{i:02d}",
                    recipients=recipients_for(encoding),
                    text=text,
                    ucs2_overseas=True,
                    dry_run=dry_run,
                    unit_price=0.05,
                    ledger_path=ledger,
                )
            except IsendproValidationError:
                refused.append(i)
    return dag, refused


@pytest.mark.parametrize("default_sender", [None, "ACME"], ids=["no-sender", "connection-sender"])
def test_dry_run_counts_equal_billed_counts_for_every_message_shape(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    default_sender: str | None,
) -> None:
    extra = {} if default_sender is None else {"sender": default_sender}
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json(extra=extra))
    suffix = "sender" if default_sender else "plain"
    dry_dag, refused_dry = shapes_dag(f"dry_shapes_{suffix}", dry_run=True, ledger=str(tmp_path / "a"))
    real_dag, refused_real = shapes_dag(f"real_shapes_{suffix}", dry_run=False, ledger=str(tmp_path / "b"))
    # the 919-unit text is refused when the DAG file is parsed, dry run or not
    assert refused_dry == refused_real == [i for i, (t, _) in enumerate(SHAPES) if t == "a" * 919]
    dry = run_dag(dry_dag)
    assert isendpro_emulator.requests == []
    real = run_dag(real_dag)
    dry_states, real_states = task_states(dry), task_states(real)
    billed = {s.tracker: s for s in isendpro_emulator.sent}
    compared, refused = 0, len(refused_real)
    for i, (text, encoding) in enumerate(SHAPES):
        task_id = f"shape_{i:02d}"
        if i in refused_real:
            continue
        assert dry_states[task_id] == real_states[task_id], (task_id, text[:20])
        if real_states[task_id] == "failed":  # refused before any request, by both
            assert xcom_value(real, task_id, key="send_report") is None
            refused += 1
            continue
        plan, result = xcom_value(dry, task_id), xcom_value(real, task_id)
        sent = [billed[r["tracker"]] for r in result["recipients"]]
        assert [s.tel for s in sent] == [WIRE[n] for n in recipients_for(encoding)]
        assert {s.sender for s in sent} == {default_sender}
        assert [p["segments"] for p in plan["recipients"]] == [s.segments for s in sent]
        assert [p["encoding"] for p in plan["recipients"]] == [s.encoding for s in sent]
        assert [p["text"] for p in plan["recipients"]] == [s.text for s in sent]
        assert plan["segments"]["estimated"] == result["segments"]["billed"] == sum(s.segments for s in sent)
        assert plan["estimate"]["cost"] == round(result["segments"]["billed"] * 0.05, 4)
        compared += 1
    # the 919-unit text is refused either way; with a sender, so is the 918-unit one (+12 STOP units)
    assert refused == (2 if default_sender else 1) and compared == len(SHAPES) - refused
    assert not [t for t, s in real_states.items() if s not in ("success", "failed")]


def test_dry_run_with_the_connections_sender_counts_its_stop_mention(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """The issue's case: 159 characters fit one SMS, but not with the 12-unit STOP mention a sender adds."""
    from airflow.sdk import DAG

    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json(extra={"sender": "ACME"})
    )
    with DAG("dry_159", schedule=None, start_date=START, catchup=False) as dag:
        SendSmsOperator(
            task_id="send", recipients=METROPOLITAN, text="a" * 159, dry_run=True, ledger_path=str(tmp_path)
        )
    plan = xcom_value(run_dag(dag), "send")
    assert plan["segments"] == {"estimated": 2}
    assert plan["recipients"][0]["segments"] == 2
