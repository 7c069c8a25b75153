"""HlrLookupOperator against the emulator: normalise first, batch, never pay for invalid numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.client import HlrResult
from airflow_provider_isendpro.errors import IsendproUnknownOutcomeError, IsendproValidationError, shorten
from airflow_provider_isendpro.operators.hlr import HlrLookupOperator, match_answers
from airflow_provider_isendpro.sms import normalise_number
from airflow_provider_isendpro.testing import MAGIC_UNASSIGNED, IsendproEmulator
from tests.dagruns import task_states, xcom_value

START = pendulum.datetime(2026, 1, 1, tz="UTC")
KEY = "emulator-fake-keyid"


def hlr_bodies(emu: IsendproEmulator) -> list[Any]:
    assert all(r.path == "/hlr" and r.method == "POST" for r in emu.requests)
    return [r.body for r in emu.requests]


def row(
    raw: str, number: str | None, operator: str | None, valid: bool | None, status: str
) -> dict[str, Any]:
    return {
        "input": raw,
        "number": number,
        "operator": operator,
        "valid": valid,
        "status": status,
        "error": None,
    }


def test_normalises_dedupes_and_batches_before_paying(isendpro_emulator: IsendproEmulator) -> None:
    numbers = ["06 12 34 56 78", "+33612345678", "abc", MAGIC_UNASSIGNED, "0652345678", "0692123456"]
    result = HlrLookupOperator(task_id="hlr", numbers=numbers, batch_size=2).execute({})

    assert hlr_bodies(isendpro_emulator) == [
        {"keyid": KEY, "getHLR": "1", "num": ["0612345678", MAGIC_UNASSIGNED]},
        {"keyid": KEY, "getHLR": "1", "num": ["0652345678", "262692123456"]},
    ]
    invalid = {
        "input": "abc",
        "number": None,
        "operator": None,
        "valid": False,
        "status": "invalid",
        "error": "recipient='abc': contains characters other than digits, spaces and + . - ( ) /; "
        "give only the number",
    }
    assert result == {
        "counts": {
            "input": 6,
            "invalid": 1,
            "duplicate": 1,
            "looked_up": 4,
            "valid": 2,
            "not_valid": 2,
            "unanswered": 0,
        },
        "results": [
            row("06 12 34 56 78", "0612345678", "SFR", True, "looked_up"),
            row("+33612345678", "0612345678", "SFR", True, "duplicate"),
            invalid,
            row(MAGIC_UNASSIGNED, MAGIC_UNASSIGNED, None, False, "looked_up"),
            row("0652345678", "0652345678", "BOUY", True, "looked_up"),
            row("0692123456", "262692123456", None, False, "looked_up"),
        ],
        "valid_numbers": ["0612345678", "0652345678"],
    }


def test_output_valid_is_just_the_valid_numbers(isendpro_emulator: IsendproEmulator) -> None:
    op = HlrLookupOperator(task_id="hlr", numbers="0612345678, 0600000021;0752345678", output="valid")
    assert op.execute({}) == ["0612345678", "0752345678"]
    assert hlr_bodies(isendpro_emulator) == [
        {"keyid": KEY, "getHLR": "1", "num": ["0612345678", "0600000021", "0752345678"]}
    ]


def test_numbers_from_a_template(isendpro_emulator: IsendproEmulator) -> None:
    op = HlrLookupOperator(task_id="hlr", numbers="{{ params.numbers }}", output="valid")
    op.render_template_fields({"params": {"numbers": "0612345678\n0652345678"}})
    assert op.execute({}) == ["0612345678", "0652345678"]


def test_numbers_from_a_file_one_per_line(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text("# opt-in list\n06 12 34 56 78\n\n0652345678\n0612345678\n", encoding="utf-8")
    result = HlrLookupOperator(task_id="hlr", numbers_file=str(path)).execute({})
    assert hlr_bodies(isendpro_emulator) == [
        {"keyid": KEY, "getHLR": "1", "num": ["0612345678", "0652345678"]}
    ]
    assert result["counts"] == {
        "input": 3,
        "invalid": 0,
        "duplicate": 1,
        "looked_up": 2,
        "valid": 2,
        "not_valid": 0,
        "unanswered": 0,
    }


def test_only_invalid_numbers_means_no_request(isendpro_emulator: IsendproEmulator) -> None:
    result = HlrLookupOperator(task_id="hlr", numbers=["12", "0712345678"]).execute({})
    assert isendpro_emulator.requests == []
    assert result["counts"] == {
        "input": 2,
        "invalid": 2,
        "duplicate": 0,
        "looked_up": 0,
        "valid": 0,
        "not_valid": 0,
        "unanswered": 0,
    }
    assert result["valid_numbers"] == []


@pytest.mark.parametrize("envelope", ["list", "object"])
def test_answer_quirks_single_object_and_echoed_form(
    isendpro_emulator: IsendproEmulator, envelope: str
) -> None:
    isendpro_emulator.configure(envelope=envelope, echo_national_tel=False, hlr_unknown_marker="")
    op = HlrLookupOperator(task_id="hlr", numbers=["+33 6 52 34 56 78"], batch_size=1)
    assert op.execute({})["results"] == [row("+33 6 52 34 56 78", "0652345678", "BOUY", True, "looked_up")]


def test_server_error_on_the_billed_call_is_not_retried(isendpro_emulator: IsendproEmulator) -> None:
    isendpro_emulator.inject("http_500", "/hlr")
    op = HlrLookupOperator(task_id="hlr", numbers=["0612345678", "0652345678"], batch_size=1)
    with pytest.raises(IsendproUnknownOutcomeError) as exc:
        op.execute({})
    assert len(isendpro_emulator.requests) == 1  # first batch failed: no retry, no second batch
    assert "it was not retried" in exc.value.message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"numbers": []}, "numbers=[]: is empty: give at least one phone number"),
        ({"numbers": " ,; "}, "numbers=' ,; ': is empty: give at least one phone number"),
        (
            {},
            "numbers=None: give exactly one of numbers= (a list, a string, a template or an XComArg) "
            "or numbers_file= (a file with one number per line)",
        ),
        (
            {"numbers": ["0612345678"], "numbers_file": "/x.txt"},
            "numbers=None: give exactly one of numbers= "
            "(a list, a string, a template or an XComArg) or numbers_file= (a file with one number per line)",
        ),
        ({"numbers": ["0612345678"], "output": "some"}, "output='some': must be 'all' or 'valid'"),
        ({"numbers": ["0612345678"], "batch_size": 0}, "batch_size=0: must be a whole number >= 1"),
    ],
)
def test_bad_input_fails_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        HlrLookupOperator(task_id="hlr", **kwargs)
    assert type(exc.value) is IsendproValidationError
    assert str(exc.value) == message


def test_empty_list_after_rendering_fails_before_any_request(isendpro_emulator: IsendproEmulator) -> None:
    op = HlrLookupOperator(task_id="hlr", numbers="{{ params.numbers }}")
    op.render_template_fields({"params": {"numbers": ""}})
    with pytest.raises(IsendproValidationError) as exc:
        op.execute({})
    assert str(exc.value) == "numbers='': is empty: give at least one phone number"
    assert isendpro_emulator.requests == []


def test_missing_numbers_file(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(IsendproValidationError) as exc:
        HlrLookupOperator(task_id="hlr", numbers_file=missing).execute({})
    assert (
        str(exc.value) == f"numbers_file={shorten(missing)}: does not exist or is not a file on this worker"
    )
    assert isendpro_emulator.requests == []


def test_answers_matched_by_number_whatever_form_or_order() -> None:
    batch = [
        normalise_number("0612345678"),
        normalise_number("+262692123456"),
        normalise_number("0652345678"),
    ]
    found = [
        HlrResult(number="262692123456", operator=None),
        HlrResult(number="33612345678", operator="ORAN"),  # international echo, other order
    ]
    assert match_answers(batch, found, "FR") == {
        "0612345678": found[1],
        "262692123456": found[0],
        "0652345678": None,  # left out of the answer: reported as unanswered
    }
    # One answer per number whose tel cannot be read: paired by position.
    assert match_answers(batch[:1], [HlrResult(number="?", operator="SFR")], "FR") == {
        "0612345678": HlrResult(number="?", operator="SFR")
    }


# --------------------------------------------------------------------------------------------------
# dag.test()


@pytest.mark.integration
def test_dag_numbers_from_xcom(isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any]) -> None:
    from airflow.sdk import DAG, task

    with DAG("hlr_from_xcom", schedule=None, start_date=START, catchup=False) as dag:

        @task
        def numbers() -> list[str]:
            return ["0612345678", "06 12 34 56 78", MAGIC_UNASSIGNED]

        HlrLookupOperator(task_id="hlr", numbers=numbers())

    run = run_dag(dag)
    assert task_states(run) == {"numbers": "success", "hlr": "success"}
    assert hlr_bodies(isendpro_emulator) == [
        {"keyid": KEY, "getHLR": "1", "num": ["0612345678", MAGIC_UNASSIGNED]}
    ]
    assert xcom_value(run, "hlr") == {
        "counts": {
            "input": 3,
            "invalid": 0,
            "duplicate": 1,
            "looked_up": 2,
            "valid": 1,
            "not_valid": 1,
            "unanswered": 0,
        },
        "results": [
            row("0612345678", "0612345678", "SFR", True, "looked_up"),
            row("06 12 34 56 78", "0612345678", "SFR", True, "duplicate"),
            row(MAGIC_UNASSIGNED, MAGIC_UNASSIGNED, None, False, "looked_up"),
        ],
        "valid_numbers": ["0612345678"],
    }


@pytest.mark.integration
def test_dag_hlr_then_send_to_valid_numbers_only(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Path
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    with DAG("hlr_then_send", schedule=None, start_date=START, catchup=False) as dag:
        hlr = HlrLookupOperator(
            task_id="hlr", numbers=["0612345678", MAGIC_UNASSIGNED, "0652345678", "bad"], output="valid"
        )
        SendSmsOperator(
            task_id="send", recipients=hlr.output, text="Votre colis arrive", ledger_path=str(tmp_path)
        )

    run = run_dag(dag)
    assert task_states(run) == {"hlr": "success", "send": "success"}
    assert [r.path for r in isendpro_emulator.requests] == ["/hlr", "/smsmulti"]
    assert isendpro_emulator.requests[0].body["num"] == ["0612345678", MAGIC_UNASSIGNED, "0652345678"]
    assert isendpro_emulator.requests[1].body["num"] == ["0612345678", "0652345678"]
    assert [s.tel for s in isendpro_emulator.sent] == ["0612345678", "0652345678"]
    assert xcom_value(run, "hlr") == ["0612345678", "0652345678"]
    assert xcom_value(run, "send")["counts"]["sent"] == 2


@pytest.mark.integration
def test_dag_hlr_feeds_a_mapped_send(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Path
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    with DAG("hlr_then_mapped_send", schedule=None, start_date=START, catchup=False) as dag:
        hlr = HlrLookupOperator(
            task_id="hlr", numbers=["0612345678", MAGIC_UNASSIGNED, "0652345678"], output="valid"
        )
        SendSmsOperator.partial(
            task_id="send", text="Bonjour", ledger_path=str(tmp_path), retry_delay=dt.timedelta(0)
        ).expand(recipients=hlr.output)

    run = run_dag(dag)
    states = sorted((ti.task_id, ti.map_index, str(ti.state)) for ti in run.get_task_instances())
    assert states == [("hlr", -1, "success"), ("send", 0, "success"), ("send", 1, "success")]
    assert sorted((r.path, r.body["num"]) for r in isendpro_emulator.requests[1:]) == [
        ("/sms", "0612345678"),
        ("/sms", "0652345678"),
    ]
    assert sorted(s.tel for s in isendpro_emulator.sent) == ["0612345678", "0652345678"]
