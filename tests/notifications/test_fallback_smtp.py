"""The fallback channel with a real second channel: e-mail, the recipe of docs/alerting.md.

``IsendproNotifier(fallback=SmtpNotifier(...))``: Airflow's SMTP notifier, through the ``smtp_default``
Airflow connection, to a real SMTP server on loopback (``aiosmtpd``), which counts and reads every
e-mail it receives. The emulator refuses the SMS (credit, key, every recipient), cannot be reached, or
leaves it in doubt; in each case the alert arrives, by SMS or by e-mail, counted on the receiving side.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from airflow_provider_isendpro.notifications.sms import IsendproNotifier
from airflow_provider_isendpro.testing import MAGIC_BLACKLISTED, IsendproEmulator
from tests.compat import airflow_version
from tests.notifications.conftest import LOGICAL_DATE, task_context

ONCALL = "06 12 34 56 78"
ONCALL_MAIL = "oncall@example.com"
FROM = "airflow@example.com"
SUBJECT = "[Airflow] {{ ti.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }})"
#: ``exception`` is in every deployed task callback's context, not in ``dag.test()``'s before Airflow 3.3,
#: where Airflow's templates (StrictUndefined) would refuse it: hence the default.
NO_EXCEPTION = "(no exception in the context)"
BODY = f"<p>{{{{ ti.dag_id }}}}.{{{{ ti.task_id }}}}: {{{{ exception | default({NO_EXCEPTION!r}) }}}}</p>"
ERROR = ValueError("warehouse rejected 3 rows")


@dataclass(frozen=True)
class Mail:
    """One e-mail as the SMTP server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    body: str
    """The text of its (only) HTML part, decoded."""


class Inbox:
    """The SMTP server's handler: keeps every message it accepts (aiosmtpd's ``handle_DATA`` hook)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        [part] = [p for p in message.walk() if p.get_content_type() == "text/html"]
        self.mails.append(
            Mail(envelope.mail_from, tuple(envelope.rcpt_tos), str(message["Subject"]), part.get_content())
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 (a free port), for this module. ``start()`` returns once it
    answers; the client's ``sendmail`` returns once the server has accepted (and recorded) the message,
    so nothing waits on time."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """The server's inbox, emptied, with ``smtp_default`` pointing at it (plain SMTP on loopback, the
    sender in the connection, no retry)."""
    box, port = smtp_server
    box.mails.clear()
    extra = {"from_email": FROM, "disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 5}
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))
    return box


def mailer() -> Any:
    """The fallback of docs/alerting.md's recipe: e-mail through the SMTP provider and smtp_default."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(to=ONCALL_MAIL, subject=SUBJECT, html_content=BODY)


def the_mail(dag_id: str = "etl_sales", task_id: str = "load", try_number: int = 1, error: str = "") -> Mail:
    """The e-mail ``mailer()`` sends for a task failure (``{{ exception }}`` renders as ``str(ERROR)``)."""
    error = error or str(ERROR)
    return Mail(
        FROM,
        (ONCALL_MAIL,),
        f"[Airflow] {dag_id}.{task_id} failed (try {try_number})",
        f"<p>{dag_id}.{task_id}: {error}</p>",
    )


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> str:
    """An ``isendpro_down`` connection to a loopback port nothing listens on (connection refused), with
    the client's connect retries off (they are tested in tests/client)."""
    from airflow_provider_isendpro import client
    from airflow_provider_isendpro.client.retry import NO_RETRY

    conn = {"conn_type": "isendpro", "host": f"http://127.0.0.1:{free_port()}/cgi-bin", "password": "k" * 12}
    monkeypatch.setattr(client, "RetryPolicy", lambda: NO_RETRY)
    monkeypatch.setenv("AIRFLOW_CONN_ISENDPRO_DOWN", json.dumps(conn))
    return "isendpro_down"


def fallback_lines(logs: list[dict[str, Any]]) -> list[str]:
    return [str(e["event"]) for e in logs if "fallback" in str(e["event"])]


Refusal = Callable[[IsendproEmulator, pytest.FixtureRequest], dict[str, Any]]


def credit_exhausted(emulator: IsendproEmulator, request: pytest.FixtureRequest) -> dict[str, Any]:
    emulator.credit = 0.0
    return {}


def key_refused(emulator: IsendproEmulator, request: pytest.FixtureRequest) -> dict[str, Any]:
    request.getfixturevalue("wrong_key")
    return {"isendpro_conn_id": "isendpro_wrong_key"}


def isendpro_down(emulator: IsendproEmulator, request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"isendpro_conn_id": request.getfixturevalue("unreachable")}


def every_recipient_refused(emulator: IsendproEmulator, request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"to": MAGIC_BLACKLISTED}


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        (credit_exhausted, "sendSms (POST /sms): iSendPro refused the request: code 10, 'Insufficient"),
        (key_refused, "sendSms (POST /sms): iSendPro refused the request: code 3, "),
        (isendpro_down, "sendSms (POST /sms): could not connect to iSendPro at http://127.0.0.1:"),
        (every_recipient_refused, "(iSendPro refused every recipient (code 11)); "),
    ],
    ids=["credit exhausted", "key refused", "iSendPro down", "every recipient refused"],
)
def test_sms_refused_goes_out_by_email(
    refusal: Refusal,
    reason: str,
    isendpro_emulator: IsendproEmulator,
    inbox: Inbox,
    request: pytest.FixtureRequest,
) -> None:
    options = {"to": ONCALL, **refusal(isendpro_emulator, request)}
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(**options, fallback=mailer())(task_context(ERROR))
    assert isendpro_emulator.sent == []  # no SMS went
    assert inbox.mails == [the_mail()]  # the alert arrived, once, by e-mail
    [calling, done] = fallback_lines(logs)
    # (the error's class and closing advice are test_fallback.py's and test_notifier.py's business)
    assert calling.startswith("iSendPro alert not sent by SMS (")
    assert reason in calling
    assert calling.endswith("; calling the fallback SmtpNotifier")
    assert done == "iSendPro alert fallback SmtpNotifier done"


def test_one_notifier_emails_each_alert_with_its_own_text(
    isendpro_emulator: IsendproEmulator, inbox: Inbox
) -> None:
    """One notifier object fires for several tasks (dag.test() with retries, the DAG processor): Airflow's
    notifier renders its templates onto itself, so the fallback is called on a copy each time."""
    isendpro_emulator.credit = 0.0
    notifier = IsendproNotifier(to=ONCALL, fallback=mailer())
    notifier(task_context(ERROR))
    notifier(task_context(ERROR, task_id="report", try_number=2))
    assert inbox.mails == [the_mail(), the_mail(task_id="report", try_number=2)]


def test_in_doubt_is_not_emailed_by_default_the_sms_arrived(
    isendpro_emulator: IsendproEmulator, inbox: Inbox
) -> None:
    # The emulator takes the SMS, then closes the connection before answering: the notifier cannot know.
    isendpro_emulator.inject("reset_after_accept", path="/sms", times=1)
    IsendproNotifier(to=ONCALL, text="etl_sales.load failed", fallback=mailer())(task_context(ERROR))
    assert [(s.tel, s.text) for s in isendpro_emulator.sent] == [("0612345678", "etl_sales.load failed")]
    assert inbox.mails == []


def test_in_doubt_is_emailed_with_fallback_on_unknown(
    isendpro_emulator: IsendproEmulator, inbox: Inbox
) -> None:
    isendpro_emulator.inject("reset_after_accept", path="/sms", times=1)
    with structlog.testing.capture_logs() as logs:
        IsendproNotifier(
            to=ONCALL, text="etl_sales.load failed", fallback=mailer(), fallback_on_unknown=True
        )(task_context(ERROR))
    # Both arrive: the SMS iSendPro took, and the e-mail (a possible duplicate beats silence).
    assert [(s.tel, s.text) for s in isendpro_emulator.sent] == [("0612345678", "etl_sales.load failed")]
    assert inbox.mails == [the_mail()]
    [calling, _] = fallback_lines(logs)
    assert calling.startswith("iSendPro alert not sent by SMS (in doubt, the SMS may have gone: sendSms")


def test_sent_sms_sends_no_email(isendpro_emulator: IsendproEmulator, inbox: Inbox) -> None:
    IsendproNotifier(to=ONCALL, text="etl_sales.load failed", fallback=mailer())(task_context(ERROR))
    assert len(isendpro_emulator.sent) == 1
    assert inbox.mails == []


def test_deadline_alert_goes_out_by_email_from_the_triggerer(
    isendpro_emulator: IsendproEmulator, inbox: Inbox
) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    isendpro_emulator.credit = 0.0
    context = {
        "dag_run": {"dag_id": "etl_sales", "dag_run_id": "manual__1"},
        "deadline": {"id": "0199-abc", "deadline_time": "2026-01-01T03:30:00+00:00"},
    }
    fallback = SmtpNotifier(
        to=ONCALL_MAIL,
        subject="[Airflow] DAG {{ dag_run.dag_id }} missed its deadline",
        html_content="<p>deadline {{ deadline.deadline_time }}</p>",
    )
    asyncio.run(IsendproNotifier(to=ONCALL, fallback=fallback).async_notify(context))
    assert isendpro_emulator.sent == []
    assert inbox.mails == [
        Mail(
            FROM,
            (ONCALL_MAIL,),
            "[Airflow] DAG etl_sales missed its deadline",
            "<p>deadline 2026-01-01T03:30:00+00:00</p>",
        )
    ]


@pytest.mark.integration
def test_failed_task_emails_on_call_when_the_credit_is_exhausted(
    isendpro_emulator: IsendproEmulator, inbox: Inbox, run_dag: Callable[..., Any], tmp_path: Any
) -> None:
    """The task fails for real under ``dag.test()``: its failure callback cannot text (credit 0) and the
    e-mail names the task, the try and the error."""
    from airflow.sdk import DAG, task

    isendpro_emulator.credit = 0.0
    notifier = IsendproNotifier(to=ONCALL, ledger_path=str(tmp_path), fallback=mailer())
    with DAG("fallback_smtp_dag", schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:

        @task(on_failure_callback=notifier)
        def load() -> None:
            raise ERROR

        load()

    run = run_dag(dag)
    assert str(run.state) == "failed"
    assert isendpro_emulator.sent == []
    # Before Airflow 3.3, dag.test() runs failure callbacks without the exception (tests/compat.py).
    error = str(ERROR) if airflow_version() >= (3, 3) else NO_EXCEPTION
    assert inbox.mails == [the_mail("fallback_smtp_dag", "load", 1, error)]
