"""SendSmsOperator end to end under ``dag.test()`` against the emulator: requests received, XCom, retries."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.operators.sms import SendSmsOperator
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import task_states, try_numbers, xcom_value

pytestmark = pytest.mark.integration

START = pendulum.datetime(2026, 1, 1, tz="UTC")
MOBILES = [f"06{n:08d}" for n in range(12_345_600, 12_345_612)]  # 0612345600 .. 0612345611


def make_dag(dag_id: str, *, retries: int = 0, **op_kwargs: Any) -> Any:
    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        SendSmsOperator(task_id="send", retries=retries, retry_delay=dt.timedelta(0), **op_kwargs)
    return dag


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    return str(tmp_path / "ledger")


def sent_pairs(emu: IsendproEmulator) -> list[tuple[str, str]]:
    return [(s.tel, s.text) for s in emu.sent]


def test_single_recipient_goes_to_sms(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    dag = make_dag(
        "sms_single", recipients="06 12 34 56 78", text="Le run {{ dag.dag_id }} est fini", ledger_path=ledger
    )
    run = run_dag(dag)
    assert task_states(run) == {"send": "success"}
    [request] = isendpro_emulator.requests
    assert request.path == "/sms"
    body = dict(request.body)
    tracker = body.pop("tracker")
    assert body == {
        "keyid": isendpro_emulator.api_key,
        "num": "0612345678",
        "sms": "Le run sms_single est fini",
        "smslong": "6",
    }
    result = xcom_value(run, "send")
    assert result["counts"] == {"sent": 1, "rejected": 0, "invalid": 0, "duplicate": 0, "already_sent": 0,
                                "already_rejected": 0, "unknown": 0, "not_sent": 0}  # fmt: skip
    assert result["recipients"] == [
        {"index": 0, "number": "0612345678", "status": "sent", "tracker": tracker, "segments": 1}
    ]
    assert result["segments"] == {"estimated": 1, "billed": 1}
    assert result["requests"] == 1 and result["error"] is None and result["dry_run"] is False


def test_bulk_shared_text_batches_and_reuses_one_text(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    dag = make_dag(
        "sms_bulk",
        recipients=MOBILES[:5],
        text="Maintenance ce soir 22h",
        sender="ACME",
        batch_size=2,
        ledger_path=ledger,
    )
    run = run_dag(dag)
    assert task_states(run) == {"send": "success"}
    requests = isendpro_emulator.requests_to("/smsmulti")
    assert [r.body["num"] for r in requests] == [MOBILES[0:2], MOBILES[2:4], MOBILES[4:5]]
    assert all(
        r.body["sms"] == ["Maintenance ce soir 22h"] and r.body["emetteur"] == "ACME" for r in requests
    )
    assert all(len(r.body["tracker"]) == len(r.body["num"]) for r in requests)
    result = xcom_value(run, "send")
    assert result["counts"]["sent"] == 5 and result["requests"] == 3
    assert result["batches"] == {"sent": 3, "from_ledger": 0, "unknown": 0, "not_sent": 0}
    assert [r["tracker"] for r in result["recipients"]] == [t for r in requests for t in r.body["tracker"]]


def test_bulk_personalised_rows(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    rows = [
        {"phone": "0612345600", "name": "Ana", "slot": "9h"},
        {"phone": "+33 6 12 34 56 01", "name": "Bob", "slot": "10h"},
    ]
    dag = make_dag(
        "sms_rows", recipients=rows, number_field="phone", ledger_path=ledger,
        text="Bonjour {{ recipient.name }}, RDV à {{ recipient.slot }} ({{ dag.dag_id }})",
    )  # fmt: skip
    run = run_dag(dag)
    assert task_states(run) == {"send": "success"}
    [request] = isendpro_emulator.requests
    assert request.body["num"] == ["0612345600", "0612345601"]
    assert request.body["sms"] == ["Bonjour Ana, RDV à 9h (sms_rows)", "Bonjour Bob, RDV à 10h (sms_rows)"]
    assert sent_pairs(isendpro_emulator) == list(zip(request.body["num"], request.body["sms"], strict=True))


def test_scheduled_send_converts_to_paris_wall_time(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    when = pendulum.now("UTC").add(days=30).replace(hour=7, minute=30, second=0, microsecond=0)
    dag = make_dag(
        "sms_scheduled", recipients=MOBILES[:2], text="Rappel", send_at=when.isoformat(), ledger_path=ledger
    )
    run_dag(dag)
    [request] = isendpro_emulator.requests
    paris = when.in_timezone("Europe/Paris")
    assert request.body["date_envoi"] == paris.strftime("%Y-%m-%d %H:%M")
    assert request.body["gmt_zone"] == "Europe/Brussels"
    assert {s.date_envoi for s in isendpro_emulator.sent} == {paris.strftime("%Y-%m-%d %H:%M")}


def test_dry_run_sends_nothing_and_returns_the_plan(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    dag = make_dag(
        "sms_dry", recipients=["0612345600", "06 12 34 56 00", "12"], text="Promo: " + "x" * 150,
        sender="ACME", dry_run=True, on_invalid="skip", unit_price=0.05, ledger_path=ledger,
    )  # fmt: skip
    run = run_dag(dag)
    assert task_states(run) == {"send": "success"}
    assert isendpro_emulator.requests == []
    plan = xcom_value(run, "send")
    assert plan["dry_run"] is True
    assert plan["input"] == 3
    assert plan["counts"] == {"planned": 1, "invalid": 1, "duplicate": 1}
    assert plan["segments"] == {"estimated": 2}  # 157 chars + 12-unit STOP suffix = 169 units: 2 parts
    assert plan["estimate"] == {"segments": 2, "unit_price": 0.05, "cost": 0.1}
    assert plan["encodings"] == {"GSM-7": 1}
    assert plan["recipients"][0]["number"] == "0612345600" and plan["recipients"][0]["segments"] == 2
    assert plan["invalid"][0]["index"] == 2 and plan["invalid"][0]["number"] == "12"
    assert not Path(ledger).exists()


@pytest.mark.parametrize(
    ("policy", "state"), [("fail", "failed"), ("warn", "success"), ("ignore", "success")]
)
def test_rejections_11_and_21_under_each_policy(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str, policy: str, state: str
) -> None:
    numbers = ["0612345600", "0600000011", "0600000021", "0612345601"]
    dag = make_dag(
        f"sms_rejected_{policy}", recipients=numbers, text="Info", on_rejected=policy, ledger_path=ledger
    )
    run = run_dag(dag)
    assert task_states(run) == {"send": state}
    assert sent_pairs(isendpro_emulator) == [("0612345600", "Info"), ("0612345601", "Info")]
    result = xcom_value(run, "send", key="send_report" if policy == "fail" else "return_value")
    assert result["counts"]["sent"] == 2 and result["counts"]["rejected"] == 2
    assert result["rejected_by_code"] == {"11": 1, "21": 1}
    codes = {r["number"]: r.get("code") for r in result["recipients"]}
    assert codes == {"0612345600": None, "0600000011": 11, "0600000021": 21, "0612345601": None}
    if policy == "fail":
        assert result["error"]["type"] == "IsendproRecipientError"
        assert result["error"]["message"].startswith(
            "iSendPro rejected 2 of 4 recipients (codes {'11': 1, '21': 1})"
        )


def test_invalid_numbers_fail_before_anything_is_sent(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    from airflow.sdk import DAG, task

    with DAG("sms_invalid_fail", schedule=None, start_date=START, catchup=False) as dag:

        @task
        def numbers() -> list[str]:
            return ["0612345600", "0712345678", "hello", "0142345678"]

        SendSmsOperator(task_id="send", recipients=numbers(), text="x", ledger_path=ledger)
    run = run_dag(dag)
    assert task_states(run) == {"numbers": "success", "send": "failed"}
    assert isendpro_emulator.requests == []
    assert not Path(ledger).exists()


def test_literal_mistakes_raise_when_the_dag_file_is_parsed() -> None:
    """Written in the DAG file: an import error in the UI, before any run (issue 19, item 6)."""
    from airflow_provider_isendpro.errors import IsendproValidationError

    with pytest.raises(IsendproValidationError) as err:
        SendSmsOperator(task_id="t", recipients=["0612345600", "0712345678", "hello"], text="x")
    assert str(err.value).startswith(
        "2 of 3 recipients are invalid and nothing was sent (on_invalid='fail'; use on_invalid='skip' to "
        "send to the others): #1 '0712345678': recipient='0712345678': is not in an allocated number range"
    )
    assert "#2 'hello': recipient='hello'" in str(err.value)
    with pytest.raises(IsendproValidationError, match=r"^sender='A!': must be 4 to 11 characters"):
        SendSmsOperator(task_id="t", recipients="0612345600", text="x", sender="A!")
    with pytest.raises(IsendproValidationError, match=r"needs 2 SMS parts, more than the cap of 1"):
        SendSmsOperator(task_id="t", recipients="0612345600", text="a" * 150, sender="ACME", max_segments=1)
    # templated values, skipped numbers and texts that may be transliterated wait for the task to run
    SendSmsOperator(task_id="t", recipients=["{{ params.n }}", "hello"], text="x", on_invalid="skip")
    SendSmsOperator(task_id="t", recipients="0612345600", text="{{ params.t }}", sender="{{ params.s }}")
    SendSmsOperator(task_id="t", recipients="0612345600", text="…" * 100, max_segments=1, transliterate=True)
    # a mapped task is built when it runs, from the run's values: the planner checks those
    SendSmsOperator(task_id="t", recipients=["hello"], text="x", _airflow_from_mapped=True)


def test_invalid_numbers_error_lists_every_entry() -> None:
    from airflow_provider_isendpro.errors import IsendproValidationError
    from airflow_provider_isendpro.sending.plan import MessageRules, Planner
    from airflow_provider_isendpro.sending.service import SendPolicy, _guards, survey
    from airflow_provider_isendpro.sending.sources import value_source

    planner = Planner(lambda _f: "x", personalised=False, rules=MessageRules(), scope="s")
    found = survey(
        planner, value_source(["0612345600", "0712345678", "hello"], "number")(), batch_size=500, sample=0
    )
    with pytest.raises(IsendproValidationError) as err:
        _guards(found, SendPolicy())
    message = str(err.value)
    assert message.startswith("2 of 3 recipients are invalid and nothing was sent (on_invalid='fail'")
    assert "#1 '0712345678'" in message and "#2 'hello'" in message


def test_invalid_numbers_skipped(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    dag = make_dag(
        "sms_invalid_skip",
        recipients=["0612345600", "hello", "0612345601"],
        text="x",
        on_invalid="skip",
        ledger_path=ledger,
    )
    run = run_dag(dag)
    assert task_states(run) == {"send": "success"}
    assert [s.tel for s in isendpro_emulator.sent] == ["0612345600", "0612345601"]
    result = xcom_value(run, "send")
    assert result["counts"]["invalid"] == 1 and result["counts"]["sent"] == 2
    invalid = [r for r in result["recipients"] if r["status"] == "invalid"]
    assert (
        invalid[0]["index"] == 1
        and invalid[0]["number"] == "hello"
        and "recipient='hello'" in invalid[0]["reason"]
    )


def _conservation(result: dict[str, Any]) -> None:
    assert sum(result["counts"].values()) == result["input"]


def _batches_conserved(result: dict[str, Any], planned: int) -> None:
    assert set(result["batches"]) == {"sent", "from_ledger", "unknown", "not_sent"}
    assert sum(result["batches"].values()) == planned


@pytest.mark.parametrize(("on_unknown", "state", "tries"), [("fail", "failed", 2), ("warn", "success", 1)])
def test_timeout_after_batch_k_was_accepted_is_in_doubt_and_fails_the_task_by_default(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    ledger: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    on_unknown: str,
    state: str,
    tries: int,
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json(extra={"read_timeout": 0.5})
    )
    isendpro_emulator.inject(
        "hang_after_accept", path="/smsmulti", after=1
    )  # batch 2 of 4 is accepted, then no answer
    dag = make_dag(
        f"sms_timeout_{on_unknown}", recipients=MOBILES[:8], text="Alerte", batch_size=2, retries=1,
        on_unknown=on_unknown, ledger_path=ledger,
    )  # fmt: skip
    run = run_dag(dag)
    assert task_states(run) == {"send": state}
    assert try_numbers(run) == {"send": tries}
    tels = [s.tel for s in isendpro_emulator.sent]
    assert sorted(tels) == MOBILES[:8] and len(tels) == len(set(tels))  # everyone exactly once
    assert len(isendpro_emulator.requests_to("/smsmulti")) == 4  # all in try 1: the retry sends nothing
    result = xcom_value(run, "send", key="send_report" if on_unknown == "fail" else "return_value")
    _conservation(result)
    _batches_conserved(result, 4)
    unknown = [r["number"] for r in result["recipients"] if r["status"] == "unknown"]
    assert unknown == MOBILES[2:4]  # batch 2: accepted by iSendPro, but try 1 never heard back
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        m.startswith("2 recipients are in doubt (status 'unknown', listed in the XCom") for m in warnings
    )
    if on_unknown == "warn":
        assert result["counts"]["sent"] == 6 and result["counts"]["unknown"] == 2
        assert result["batches"] == {"sent": 3, "from_ledger": 0, "unknown": 1, "not_sent": 0}
        assert result["error"] is None
        return
    # try 2 read everything from the ledger and still fails: the truth over the whole send
    assert result["counts"]["already_sent"] == 6 and result["counts"]["unknown"] == 2
    assert result["counts"]["sent"] == 0 and result["requests"] == 0
    assert result["batches"] == {"sent": 0, "from_ledger": 3, "unknown": 1, "not_sent": 0}
    assert result["error"]["type"] == "IsendproUnknownOutcomeError"
    assert result["error"]["message"].startswith(
        "2 of 8 recipients are in doubt (status 'unknown', listed in the XCom's 'recipients')"
    )


def test_a_retry_of_a_send_that_failed_on_rejections_still_fails(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    numbers = ["0612345600", "0600000011", "0612345601"]
    dag = make_dag("sms_rejected_retry", recipients=numbers, text="Info", retries=1, ledger_path=ledger)
    run = run_dag(dag)
    assert task_states(run) == {"send": "failed"}
    assert try_numbers(run) == {"send": 2}
    assert sent_pairs(isendpro_emulator) == [("0612345600", "Info"), ("0612345601", "Info")]  # try 1 only
    result = xcom_value(run, "send", key="send_report")  # try 2's report
    assert result["counts"]["already_sent"] == 2 and result["counts"]["already_rejected"] == 1
    assert result["requests"] == 0 and result["rejected_by_code"] == {"11": 1}
    assert result["error"] == {
        "type": "IsendproRecipientError",
        "message": "iSendPro rejected 1 of 3 recipients (codes {'11': 1}; 1 of them by an earlier try); the "
        "others were sent. Use on_rejected='warn' or 'ignore' to let the task succeed",
    }


class _Crash(BaseException):
    """Stands for the worker process dying: not an Exception, so nothing in the task catches it."""


def test_worker_dying_between_batches_resumes_without_duplicates(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    ledger: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_isendpro.sending import ledger as ledger_module

    original = ledger_module.Ledger.write
    done_writes = []

    def write(self: Any, record: Any) -> None:
        original(self, record)
        if record.state == "done":
            done_writes.append(record.fingerprint)
            if len(done_writes) == 2:  # die right after batch 2 is recorded, before batch 3 starts
                raise RuntimeError("worker lost")

    monkeypatch.setattr(ledger_module.Ledger, "write", write)
    dag = make_dag(
        "sms_crash_resume", recipients=MOBILES[:6], text="Hi", batch_size=2, retries=1, ledger_path=ledger
    )
    run = run_dag(dag)
    assert task_states(run) == {"send": "success"}
    assert sorted(s.tel for s in isendpro_emulator.sent) == MOBILES[:6]
    assert len(isendpro_emulator.sent) == 6
    result = xcom_value(run, "send")
    _conservation(result)
    assert result["counts"]["already_sent"] == 4 and result["counts"]["sent"] == 2


def test_worker_dying_mid_request_leaves_that_batch_in_doubt(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    ledger: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch accepted by iSendPro whose outcome was never recorded is not resent on retry."""
    from airflow_provider_isendpro.sending import ledger as ledger_module

    original = ledger_module.Ledger.write
    crashed = []

    def write(self: Any, record: Any) -> None:
        if record.state == "done" and not crashed:
            crashed.append(record.fingerprint)
            raise RuntimeError("worker lost before recording batch 1")
        original(self, record)

    monkeypatch.setattr(ledger_module.Ledger, "write", write)
    dag = make_dag(
        "sms_crash_in_doubt", recipients=MOBILES[:4], text="Hi", batch_size=2, retries=1, ledger_path=ledger
    )
    run = run_dag(dag)
    assert task_states(run) == {"send": "failed"}  # batch 1 is in doubt: on_unknown="fail"
    assert try_numbers(run) == {"send": 2}
    # batch 1 once (try 1), batch 2 once (try 2)
    assert [s.tel for s in isendpro_emulator.sent] == MOBILES[:4]
    result = xcom_value(run, "send", key="send_report")
    _conservation(result)
    _batches_conserved(result, 2)
    assert result["counts"]["unknown"] == 2 and result["counts"]["sent"] == 2
    assert result["batches"] == {"sent": 1, "from_ledger": 0, "unknown": 1, "not_sent": 0}


def test_resend_unknown_resends_only_the_batch_in_doubt(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    ledger: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT", isendpro_emulator.connection_json(extra={"read_timeout": 0.5})
    )
    isendpro_emulator.inject("hang", path="/smsmulti", after=1)  # batch 2 never reaches the emulator's books
    dag = make_dag(
        "sms_resend_unknown", recipients=MOBILES[:6], text="Hi", batch_size=2, retries=1, resend_unknown=True,
        ledger_path=ledger,
    )  # fmt: skip
    run = run_dag(dag)
    assert task_states(run) == {"send": "success"}
    assert try_numbers(run) == {"send": 2}  # try 1 sent batches 1 and 3, then failed on batch 2 in doubt
    assert sorted(s.tel for s in isendpro_emulator.sent) == MOBILES[:6]
    result = xcom_value(run, "send")
    assert result["counts"]["already_sent"] == 4 and result["counts"]["sent"] == 2
    assert result["batches"] == {"sent": 1, "from_ledger": 2, "unknown": 0, "not_sent": 0}


def test_personalised_template_file_and_xcom_recipients(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str, tmp_path: Path
) -> None:
    from airflow.sdk import DAG, task

    (tmp_path / "reminder.txt").write_text("Salut {{ recipient.name }} !", encoding="utf-8")
    with DAG("sms_xcom_rows", schedule=None, start_date=START, template_searchpath=[str(tmp_path)]) as dag:

        @task
        def rows() -> list[dict[str, str]]:
            return [{"number": "0612345600", "name": "Zoé"}, {"number": "0612345601", "name": "Léa"}]

        SendSmsOperator(task_id="send", recipients=rows(), text="reminder.txt", ledger_path=ledger)
    run = run_dag(dag)
    assert task_states(run) == {"rows": "success", "send": "success"}
    assert sent_pairs(isendpro_emulator) == [("0612345600", "Salut Zoé !"), ("0612345601", "Salut Léa !")]


def test_recipients_file_csv(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("nom;mobile\nAna;06 12 34 56 00\nBob;0612345601\n", encoding="utf-8")
    dag = make_dag(
        "sms_file",
        recipients_file=str(path),
        number_field="mobile",
        text="{{ recipient.nom }}: ok",
        ledger_path=ledger,
    )
    run_dag(dag)
    assert sent_pairs(isendpro_emulator) == [("0612345600", "Ana: ok"), ("0612345601", "Bob: ok")]


def test_credit_guard_refuses_a_send_it_cannot_cover(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    isendpro_emulator.credit = 0.1  # 2 SMS at the emulator's 0.05 EUR
    dag = make_dag(
        "sms_credit_guard", recipients=MOBILES[:3], text="x", check_credit=True, ledger_path=ledger
    )
    run = run_dag(dag)
    assert task_states(run) == {"send": "failed"}
    assert [r.path for r in isendpro_emulator.requests] == ["/credit"]
    assert isendpro_emulator.sent == []


def test_credit_guard_reports_credit_before_and_after(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str
) -> None:
    dag = make_dag("sms_credit_ok", recipients=MOBILES[:2], text="x", check_credit=True, ledger_path=ledger)
    run = run_dag(dag)
    result = xcom_value(run, "send")
    assert result["credit"] == {
        "before": {"euros": 100.0, "sms_estimate": 2000},
        "after": {"euros": 99.9, "sms_estimate": 1998},
    }


def test_large_sends_write_details_to_a_file(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], ledger: str, tmp_path: Path
) -> None:
    details = tmp_path / "details.jsonl"
    dag = make_dag(
        "sms_details",
        recipients=MOBILES,
        text="x",
        max_inline=5,
        details_path=str(details),
        ledger_path=ledger,
    )
    run = run_dag(dag)
    result = xcom_value(run, "send")
    assert result["recipients"] is None and result["details_path"] == str(details)
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    assert [r["number"] for r in rows] == MOBILES and {r["status"] for r in rows} == {"sent"}
    assert len(json.dumps(result)) < 1000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "x"}, "recipients=None: give exactly one of recipients= or recipients_file="),
        (
            {"text": "x", "recipients": "06", "recipients_file": "f"},
            "recipients=None: give exactly one of recipients= or recipients_file=",
        ),
        ({"text": " ", "recipients": "06"}, "text=' ': must be a non-empty message or template"),
        (
            {"text": "x", "recipients": "06", "on_invalid": "drop"},
            "on_invalid='drop': must be one of 'fail', 'skip'",
        ),
        (
            {"text": "x", "recipients": "06", "on_rejected": "x"},
            "on_rejected='x': must be one of 'fail', 'warn', 'ignore'",
        ),
        (
            {"text": "x", "recipients": "06", "max_rejected_ratio": 2},
            "max_rejected_ratio=2: must be between 0 and 1",
        ),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    from airflow_provider_isendpro.errors import IsendproValidationError

    with pytest.raises(IsendproValidationError) as err:
        SendSmsOperator(task_id="t", **kwargs)
    assert str(err.value) == message


def test_a_local_ledger_under_a_remote_executor_is_refused_before_any_request(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_isendpro.sending import location

    # dag.test() runs in-process whatever [core] executor says: the executor list is what is read
    monkeypatch.setattr(location, "configured_executors", lambda: ["CeleryExecutor"])
    monkeypatch.delenv("AIRFLOW__ISENDPRO__LEDGER_PATH", raising=False)
    dag = make_dag("sms_local_ledger_celery", recipients=MOBILES[:2], text="Hi")
    run = run_dag(dag)
    assert task_states(run) == {"send": "failed"}
    assert isendpro_emulator.requests == []
    assert xcom_value(run, "send", key="send_report") is None  # refused before planning a send
    out, err = capfd.readouterr()
    logged = out + err
    assert (
        "IsendproConfigError: SendSmsOperator refuses to run: its send ledger is on this worker's local"
        in logged
    )
    assert "[core] executor = CeleryExecutor may run a retry on another machine" in logged
    assert "Point [isendpro] ledger_path at storage every worker reaches" in logged


def test_a_declared_shared_ledger_is_accepted_under_a_remote_executor(
    isendpro_emulator: IsendproEmulator,
    run_dag: Callable[..., Any],
    ledger: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_isendpro.sending import location

    monkeypatch.setattr(location, "configured_executors", lambda: ["CeleryExecutor"])
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", ledger)
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_IS_SHARED", "True")
    run = run_dag(make_dag("sms_shared_ledger_celery", recipients=MOBILES[:2], text="Hi"))
    assert task_states(run) == {"send": "success"}
    assert [s.tel for s in isendpro_emulator.sent] == MOBILES[:2]
    assert sorted(p.name for p in Path(ledger).rglob("*.jsonl")) == ["journal.jsonl", "journal.jsonl"]


@pytest.mark.parametrize("stopped_by", ["IsendproSupersededError", "IsendproTryAlreadyRunningError"])
def test_a_try_stopped_by_another_process_leaves_the_send_report_to_it(
    stopped_by: str, monkeypatch: pytest.MonkeyPatch, isendpro_emulator: IsendproEmulator
) -> None:
    """A frozen try that resumes after the newer try ended must not replace the final report (one XCom per
    task instance: the last push wins); a try that failed on its own still pushes it."""
    from airflow_provider_isendpro import errors
    from airflow_provider_isendpro.sending import task as task_module
    from airflow_provider_isendpro.sending.service import SendOutcome

    class TaskInstance:
        try_number, map_index, hostname = 1, -1, "w1"

        def __init__(self) -> None:
            self.pushed: list[str] = []

        def xcom_push(self, key: str, value: Any) -> None:
            self.pushed.append(key)

    report = {"input": 1, "counts": {"not_sent": 1}, "requests": 0, "segments": {"billed": 0}}
    for error, pushed in [
        (getattr(errors, stopped_by)("superseded by try 2 (host w2, pid 2)"), []),
        (errors.IsendproAuthError("key refused"), ["send_report"]),
    ]:
        monkeypatch.setattr(task_module, "send_for_task", lambda **_: SendOutcome(report, error))  # noqa: B023
        ti = TaskInstance()
        op = SendSmsOperator(task_id="send", recipients=MOBILES[:1], text="Hi")
        with pytest.raises(type(error)):
            op.execute({"ti": ti, "run_id": "manual__1"})  # type: ignore[arg-type]
        assert ti.pushed == pushed


def test_a_recipients_file_path_is_checked_as_it_is_read(tmp_path: Path) -> None:
    """A templated path often ends with a new line: it was checked unstripped and read stripped."""
    from airflow_provider_isendpro.errors import IsendproValidationError
    from airflow_provider_isendpro.sending.sources import file_source

    path = tmp_path / "numbers.txt"
    path.write_text("0612345600\n# a comment\n\n0612345601\n", encoding="utf-8")
    expected = [("0612345600", None), ("0612345601", None)]
    assert list(file_source(f" {path}\n", "number")()) == expected
    assert list(file_source(f"file://{path}", "number")()) == expected
    for missing in (f" {tmp_path / 'missing.txt'}\n", f"file://{tmp_path / 'missing.txt'}"):
        with pytest.raises(IsendproValidationError, match="does not exist or is not a file on this worker"):
            file_source(missing, "number")
