"""What happens to an alert once it is planned: the request that carries it, and the records and log
lines that follow.

Shared by the notifier's sync path (worker, DAG processor) and its async path (triggerer): only the
client differs. After each send the throttle's admissions are released when iSendPro did not take the
alert (so the next alert of the window is sent, not held), the de-duplication marker is settled with the
outcome, and every outcome is logged with the connection id and iSendPro's own message, never the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_isendpro.errors import IsendproError, IsendproUnknownOutcomeError
from airflow_provider_isendpro.notifications.text import AlertPlan, redact

if TYPE_CHECKING:
    from airflow_provider_isendpro.client import SendResult
    from airflow_provider_isendpro.notifications.marker import AlertMarker
    from airflow_provider_isendpro.notifications.throttle import Admission, ThrottleGate


@dataclass(frozen=True)
class AlertDelivery:
    """The notifier's send options and its logger, for one alert."""

    conn_id: str
    nostop: bool
    max_segments: int
    ucs2_overseas: bool
    log: Any

    def call(self, client: Any, plan: AlertPlan) -> Any:
        """``client.send_sms`` (one number) or ``send_sms_multi``: a SendResult, or its awaitable."""
        if len(plan.numbers) == 1:
            return client.send_sms(
                plan.numbers[0], plan.text, sender=plan.sender, tracker=plan.trackers[0],
                nostop=self.nostop, max_segments=self.max_segments, ucs2_overseas=self.ucs2_overseas,
            )  # fmt: skip
        return client.send_sms_multi(
            plan.numbers, plan.text, sender=plan.sender, trackers=plan.trackers,
            nostop=self.nostop, max_segments=self.max_segments, ucs2_overseas=self.ucs2_overseas,
        )  # fmt: skip

    @staticmethod
    def release(gate: ThrottleGate | None, admissions: list[Admission]) -> None:
        """Give back the throttle windows these numbers opened: the alert did not reach them."""
        if gate is not None:
            gate.release(admissions)

    def settle(
        self, marker: AlertMarker | None, plan: AlertPlan, results: list[tuple[AlertPlan, SendResult]]
    ) -> None:
        """Log each recipient's outcome and record the alert's (``held`` when nothing was sent)."""
        from airflow_provider_isendpro.sms import count_segments, mask_number

        if not results:
            if marker is not None:
                marker.settle("held", plan, "held back by the throttle")
            return
        accepted = total = 0
        for part, result in results:
            segments = count_segments(part.text)[2]
            for status in result.recipients:
                if status.accepted:
                    self.log.info(
                        "iSendPro alert sent to %s via connection %r (%d characters, %d SMS segment%s)",
                        mask_number(status.number), self.conn_id, len(part.text), segments,
                        "" if segments == 1 else "s",
                    )  # fmt: skip
                else:
                    self.log.error(
                        "iSendPro refused the alert for %s via connection %r: code %s, %s",
                        mask_number(status.number), self.conn_id, status.code, status.message,
                    )  # fmt: skip
            accepted += len(result.accepted)
            total += len(result.recipients)
        if marker is not None:
            marker.settle("sent" if accepted else "failed", plan, f"{accepted} of {total} accepted")

    @staticmethod
    def settle_error(marker: AlertMarker | None, plan: AlertPlan, exc: BaseException) -> None:
        """Record a send that raised: ``unknown`` when iSendPro may have carried it out, else ``failed``."""
        if marker is None:
            return
        state = "unknown" if isinstance(exc, IsendproUnknownOutcomeError) else "failed"
        message = exc.message if isinstance(exc, IsendproError) else type(exc).__name__
        marker.settle(state, plan, message)

    def log_failure(self, exc: Exception) -> None:
        """The alert was not sent: say why at ERROR (the task's own state is never touched)."""
        if isinstance(exc, IsendproError):
            details = ", ".join(
                f"{name}={value}"
                for name, value in (("code", exc.code), ("http_status", exc.http_status))
                if value is not None
            )
            self.log.error(
                "iSendPro alert NOT sent via connection %r: %s: %s%s. The task's own state is unaffected; "
                "check the connection and iSendPro's status",
                self.conn_id, type(exc).__name__, exc.message, f" ({details})" if details else "",
            )  # fmt: skip
        else:
            self.log.error(
                "iSendPro alert NOT sent via connection %r: unexpected %s: %s. The task's own state is "
                "unaffected", self.conn_id, type(exc).__name__, redact(str(exc)),
            )  # fmt: skip
