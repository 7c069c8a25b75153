"""Every documented way of writing a send, generated: {static, personalised text} x {the ways to give the
recipients} x {dry run, real send}, each under ``dag.test()`` against the emulator.

A real send must deliver exactly the expected (number, text) pairs, once each; a dry run must send
nothing and plan exactly those texts, with the counts of the real send. The expected texts are computed
here from the rows, independently of the operator. Runs on every row of ``make matrix`` that runs
``tests/operators`` (Airflow 3.1, 3.2 and 3.3: each renders mapped tasks through the unmapped task's
``_do_render_template_fields``, see ``SendSmsOperator``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.operators.sms import SendSmsOperator
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import task_states, xcom_value

pytestmark = pytest.mark.integration

START = pendulum.datetime(2026, 1, 1, tz="UTC")
ROWS = [
    {"number": "06 12 34 56 00", "name": "Ana", "parcel": "A-17"},
    {"number": "+33 6 12 34 56 01", "name": "Bob", "parcel": "B-22"},
    {"number": "0612345602", "name": "Chloé", "parcel": "C-05"},
    {"number": "0033612345603", "name": "Dan", "parcel": "D-81"},
]
WIRE = ["0612345600", "0612345601", "0612345602", "0612345603"]
TEXTS = {
    "static": "Votre colis est arrivé en point relais ({{ dag.dag_id }})",
    "personalised": "Bonjour {{ recipient.name }}, colis {{ recipient.parcel }} arrivé ({{ dag.dag_id }})",
}


def expected_text(kind: str, row: dict[str, str], dag_id: str) -> str:
    if kind == "static":
        return f"Votre colis est arrivé en point relais ({dag_id})"
    return f"Bonjour {row['name']}, colis {row['parcel']} arrivé ({dag_id})"


def recipients(kind: str) -> list[Any]:
    """Rows for a personalised text; plain numbers (as written) for a static one."""
    return [dict(r) for r in ROWS] if kind == "personalised" else [r["number"] for r in ROWS]


def write_files(kind: str, folder: Path) -> list[str]:
    """Two recipient files: a CSV with the rows' fields, or one number per line (named ``.txt``, which
    must be read as data, not as a template file)."""
    paths = []
    for i, part in enumerate((ROWS[:2], ROWS[2:])):
        if kind == "personalised":
            path = folder / f"contacts-{i}.csv"
            path.write_text("number;name;parcel\n" + "".join(f"{r['number']};{r['name']};{r['parcel']}\n"
                                                            for r in part), encoding="utf-8")  # fmt: skip
        else:
            path = folder / f"numbers-{i}.txt"
            path.write_text("".join(f"{r['number']}\n" for r in part), encoding="utf-8")
        paths.append(str(path))
    return paths


# -- the ways to write a send: each adds its tasks to the DAG being built and names the send's map indexes


def plain(kind: str, text: str, common: dict[str, Any], folder: Path) -> list[int]:
    SendSmsOperator(task_id="send", recipients=recipients(kind), text=text, **common)
    return [-1]


def expand_recipients(kind: str, text: str, common: dict[str, Any], folder: Path) -> list[int]:
    data = recipients(kind)
    SendSmsOperator.partial(task_id="send", text=text, **common).expand(recipients=[data[:2], data[2:]])
    return [0, 1]


def expand_recipients_file(kind: str, text: str, common: dict[str, Any], folder: Path) -> list[int]:
    SendSmsOperator.partial(task_id="send", text=text, **common).expand(
        recipients_file=write_files(kind, folder)
    )
    return [0, 1]


def expand_kwargs(kind: str, text: str, common: dict[str, Any], folder: Path) -> list[int]:
    from airflow.sdk import task

    data = recipients(kind)

    @task
    def batches() -> list[dict[str, Any]]:
        return [{"recipients": data[:2], "text": text}, {"recipients": data[2:], "text": text}]

    SendSmsOperator.partial(task_id="send", **common).expand_kwargs(batches())
    return [0, 1]


def upstream_xcom(kind: str, text: str, common: dict[str, Any], folder: Path) -> list[int]:
    from airflow.sdk import task

    data = recipients(kind)

    @task
    def contacts() -> list[Any]:
        return data

    SendSmsOperator(task_id="send", recipients=contacts(), text=text, **common)
    return [-1]


def list_with_xcomarg(kind: str, text: str, common: dict[str, Any], folder: Path) -> list[int]:
    from airflow.sdk import task

    data = recipients(kind)

    @task
    def others() -> list[Any]:
        return data[1:]

    SendSmsOperator(task_id="send", recipients=[data[0], others()], text=text, **common)
    return [-1]


def templated_string(kind: str, text: str, common: dict[str, Any], folder: Path) -> list[int]:
    from airflow.sdk import task

    data = recipients(kind)

    @task
    def contacts() -> list[Any]:
        return data

    send = SendSmsOperator(
        task_id="send", recipients="{{ ti.xcom_pull(task_ids='contacts') }}", text=text, **common
    )
    contacts() >> send
    return [-1]


WAYS: dict[str, Callable[[str, str, dict[str, Any], Path], list[int]]] = {
    f.__name__: f
    for f in (
        plain,
        expand_recipients,
        expand_recipients_file,
        expand_kwargs,
        upstream_xcom,
        list_with_xcomarg,
        templated_string,
    )
}
MODES = ("dry_run", "real")
COMBINATIONS = list(itertools.product(TEXTS, WAYS, MODES))


@pytest.mark.parametrize(("kind", "way", "mode"), COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def test_way_to_send(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    tmp_path: Path,
    kind: str,
    way: str,
    mode: str,
) -> None:
    from airflow.sdk import DAG

    dag_id = f"ways_{kind}_{way}_{mode}"
    common = {
        "ledger_path": str(tmp_path / "ledger"),
        "dry_run": mode == "dry_run",
        "retries": 0,
        "retry_delay": dt.timedelta(0),
    }
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        map_indexes = WAYS[way](kind, TEXTS[kind], common, tmp_path)
    run = run_dag(dag)

    states = task_states(run)
    sends = ["send"] if map_indexes == [-1] else [f"send[{i}]" for i in map_indexes]
    assert {t: s for t, s in states.items() if t.startswith("send")} == dict.fromkeys(sends, "success")
    assert set(states.values()) == {"success"}
    expected = sorted((wire, expected_text(kind, row, dag_id)) for wire, row in zip(WIRE, ROWS, strict=True))
    results = [xcom_value(run, "send", map_index=i) for i in map_indexes]
    if mode == "real":
        assert sorted((s.tel, s.text) for s in isendpro_emulator.sent) == expected
        assert sum(r["counts"]["sent"] for r in results) == 4
        assert sum(r["segments"]["billed"] for r in results) == 4
        assert sum(s.segments for s in isendpro_emulator.sent) == 4
        return
    assert isendpro_emulator.requests == []
    assert sorted((p["number"], p["text"]) for r in results for p in r["recipients"]) == expected
    assert [r["counts"] for r in results] == [
        {"planned": 4 // len(map_indexes), "invalid": 0, "duplicate": 0}
    ] * len(map_indexes)
    assert sum(r["segments"]["estimated"] for r in results) == 4
