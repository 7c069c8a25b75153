"""iSendPro API client, free of Airflow: usable from any Python code, and by the hook."""

from __future__ import annotations

from airflow_provider_isendpro.client.aio import AsyncIsendproClient
from airflow_provider_isendpro.client.config import DEFAULT_BASE_URL, ClientConfig
from airflow_provider_isendpro.client.models import (
    BlacklistChange,
    ContactList,
    ContactListEdit,
    Credit,
    Download,
    HlrResult,
    MessageCount,
    RecipientStatus,
    SendResult,
    ShortLink,
    SubAccount,
    SubAccountEdit,
)
from airflow_provider_isendpro.client.reports import iter_report_rows
from airflow_provider_isendpro.client.retry import RetryPolicy
from airflow_provider_isendpro.client.sync import IsendproClient

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncIsendproClient",
    "BlacklistChange",
    "ClientConfig",
    "ContactList",
    "ContactListEdit",
    "Credit",
    "Download",
    "HlrResult",
    "IsendproClient",
    "MessageCount",
    "RecipientStatus",
    "RetryPolicy",
    "SendResult",
    "ShortLink",
    "SubAccount",
    "SubAccountEdit",
    "iter_report_rows",
]
