"""An SMTP server on loopback for ``make e2e``: the receiving side of the alert fallback scenario.

``IsendproNotifier(fallback=SmtpNotifier(...))`` e-mails on-call when iSendPro cannot take the alert; the
deployment's ``smtp_default`` connection points here, and the run counts and reads what arrived. A real
SMTP server (``aiosmtpd``, from the ``test`` extra), so the alert goes through Airflow's SMTP provider and
``smtplib`` as in production; it delivers nothing further.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mail:
    """One e-mail as the server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    body: str
    """Its HTML part (Airflow's SMTP notifier sends one), decoded."""


class SmtpSink:
    """Keeps every e-mail it accepts (aiosmtpd's ``handle_DATA`` hook), on 127.0.0.1 and a free port."""

    FROM = "airflow-e2e@example.com"

    def __init__(self) -> None:
        self._mails: list[Mail] = []
        self._lock = threading.Lock()
        self._controller: Any = None
        self.port = 0

    def start(self) -> None:
        """Returns once the server answers (aiosmtpd's ``Controller.start`` connects to it)."""
        from aiosmtpd.controller import Controller

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def connection(self) -> str:
        """``smtp_default`` (JSON) reaching this server: plain SMTP on loopback, the sender in the
        connection (the notifier names none), no retry."""
        extra = {"from_email": self.FROM, "disable_ssl": True, "disable_tls": True, "retry_limit": 0}
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port, "extra": extra})

    @property
    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        html = [p.get_content() for p in message.walk() if p.get_content_type() == "text/html"]
        mail = Mail(envelope.mail_from, tuple(envelope.rcpt_tos), str(message["Subject"]), "".join(html))
        with self._lock:
            self._mails.append(mail)
        return "250 Message accepted for delivery"
