"""``IsendproAlertDigestOperator``: text what the notifier's throttle held back, on demand.

Put it last in a DAG whose tasks alert with :class:`~airflow_provider_isendpro.notifications.sms.
IsendproNotifier` (it runs whatever their state: ``trigger_rule="all_done"``), or in a DAG of its own on a
schedule with ``throttle_scope="global"``. See :mod:`airflow_provider_isendpro.notifications.digest`.

With delivery receipts set up (``[isendpro] dlr_secret``), it also reports which of the DAG's alerts were
delivered, failed or got no receipt, and can escalate those not delivered in time (``escalate_after``):
see :mod:`airflow_provider_isendpro.notifications.delivery_report`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.notifications.delivery_report import DEFAULT_HORIZON, check_escalation
from airflow_provider_isendpro.notifications.throttle import check_scope, parse_throttle
from airflow_provider_isendpro.sms import validate_sender

if TYPE_CHECKING:
    from airflow.sdk import Context


class IsendproAlertDigestOperator(BaseOperator):
    """Send the pending held-back summary of a throttle scope; returns (XCom) what it held and sent.

    :param to: the same recipients as the notifier (templated).
    :param throttle_scope: the notifiers' ``throttle_scope``: ``"dag"`` (this DAG, or ``scope_dag_id``),
        ``"global"`` or a custom key.
    :param scope_dag_id: with ``throttle_scope="dag"``, the DAG whose alerts to report (default: this one).
    :param sender, nostop, max_segments, ucs2_overseas, isendpro_conn_id: as for the notifier.
    :param ledger_path, ledger_conn_id: the notifiers' ledger (default ``[isendpro]`` settings).
    :param report_deliveries: add ``deliveries`` to the XCom: the DAG's alerts (of the last
        ``delivery_horizon``, default 7 days) as delivered / failed / no_receipt, from the delivery
        receipts. Default (None): when receipts are set up (``[isendpro] dlr_secret``).
    :param escalate_after: escalate each alert not delivered (failed, or no receipt) this long after it
        was sent (``"15m"``, a timedelta), exactly once, to ``escalate_to`` (second number(s), templated)
        and/or ``escalate_fallback`` (as the notifier's ``fallback=``). Needs the delivery report.
    """

    template_fields: Sequence[str] = (
        "to",
        "throttle_scope",
        "scope_dag_id",
        "isendpro_conn_id",
        "escalate_to",
    )
    ui_color = "#f4ece8"

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        throttle_scope: str = "dag",
        scope_dag_id: str | None = None,
        sender: str | None = None,
        nostop: bool = False,
        max_segments: int = 1,
        ucs2_overseas: bool = False,
        isendpro_conn_id: str = "isendpro_default",
        ledger_path: str | None = None,
        ledger_conn_id: str | None = None,
        trigger_rule: str = "all_done",
        report_deliveries: bool | None = None,
        escalate_after: str | dt.timedelta | float | None = None,
        escalate_to: str | Sequence[str] | None = None,
        escalate_fallback: Any = None,
        delivery_horizon: str | dt.timedelta | float = DEFAULT_HORIZON,
        **kwargs: Any,
    ) -> None:
        super().__init__(trigger_rule=trigger_rule, **kwargs)
        self.to = to
        self.throttle_scope = check_scope(throttle_scope)
        self.scope_dag_id = scope_dag_id
        # not a template field: a bad sender is a mistake in the DAG file, raised when it is parsed
        self.sender = validate_sender(sender) if sender else None
        self.nostop = nostop
        self.max_segments = max_segments
        self.ucs2_overseas = ucs2_overseas
        self.isendpro_conn_id = isendpro_conn_id
        self.ledger_path = ledger_path
        self.ledger_conn_id = ledger_conn_id
        self.report_deliveries = report_deliveries
        self.escalate_after = escalate_after
        self.escalate_to = escalate_to
        self.escalate_fallback = escalate_fallback
        self.escalate_seconds, self._escalate_fallbacks = check_escalation(
            escalate_after, escalate_to, escalate_fallback
        )
        self.delivery_horizon = delivery_horizon
        self.horizon_seconds = parse_throttle(delivery_horizon)
        if report_deliveries is False and self.escalate_seconds is not None:
            raise IsendproValidationError(
                field="escalate_after", value=escalate_after, rule="needs report_deliveries (not False)"
            )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_isendpro.notifications.digest import send_alert_digest

        dag_id = self.scope_dag_id or self.dag_id
        result = send_alert_digest(
            self.to, dag_id=dag_id, throttle_scope=self.throttle_scope,
            isendpro_conn_id=self.isendpro_conn_id,
            sender=self.sender, nostop=self.nostop, max_segments=self.max_segments,
            ucs2_overseas=self.ucs2_overseas,
            ledger_path=self.ledger_path, ledger_conn_id=self.ledger_conn_id, log=self.log,
        )  # fmt: skip
        if not result["texts"]:
            self.log.info("iSendPro alert digest: no held-back alert to report")
        if self._reports():
            result["deliveries"] = self._deliveries(context, dag_id)
        return result

    def _reports(self) -> bool:
        from airflow_provider_isendpro.receipts.config import receipts_configured

        if self.report_deliveries is not None:
            return self.report_deliveries
        if receipts_configured():
            return True
        if self.escalate_seconds is not None:
            self.log.error(
                "iSendPro alert digest: escalate_after is set but no delivery receipts are set up "
                "([isendpro] dlr_secret): nothing is escalated (every alert would look undelivered)"
            )
        return False

    def _deliveries(self, context: Context, dag_id: str) -> dict[str, Any]:
        from airflow_provider_isendpro.notifications.delivery_report import (
            Escalation,
            escalator,
            open_journal,
            report_deliveries,
        )
        from airflow_provider_isendpro.receipts.store import ReceiptStore

        escalation = None
        if self.escalate_seconds is not None:
            options = {"sender": self.sender, "nostop": self.nostop, "max_segments": self.max_segments,
                       "ucs2_overseas": self.ucs2_overseas}  # fmt: skip
            escalate = escalator(
                conn_id=self.isendpro_conn_id, to=self.escalate_to, fallbacks=self._escalate_fallbacks,
                context=context, options=options, log=self.log,
            )  # fmt: skip
            escalation = Escalation(self.escalate_seconds, escalate)
        return report_deliveries(
            open_journal(self.ledger_path, self.ledger_conn_id, dag_id), ReceiptStore.configured(),
            escalation=escalation, horizon_seconds=self.horizon_seconds or 0.0, log=self.log,
        )  # fmt: skip
