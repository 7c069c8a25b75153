"""Airflow notifiers: SMS alerts through iSendPro.

``IsendproNotifier`` and its function-style alias ``send_isendpro_notification``.

Importing this package is cheap (the class module loads on first attribute access), so DAG files may
``from airflow_provider_isendpro.notifications import IsendproNotifier`` without slowing down parsing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier, send_isendpro_notification

__all__ = ["IsendproNotifier", "send_isendpro_notification"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from airflow_provider_isendpro.notifications import sms

        value = getattr(sms, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
