"""``IsendproAlertDigestOperator``: text what the notifier's throttle held back, on demand.

Put it last in a DAG whose tasks alert with :class:`~airflow_provider_isendpro.notifications.sms.
IsendproNotifier` (it runs whatever their state: ``trigger_rule="all_done"``), or in a DAG of its own on a
schedule with ``throttle_scope="global"``. See :mod:`airflow_provider_isendpro.notifications.digest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_isendpro.notifications.throttle import check_scope
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
    """

    template_fields: Sequence[str] = ("to", "throttle_scope", "scope_dag_id", "isendpro_conn_id")
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
        return result
