"""Delivery receipts (DLRs): iSendPro's callbacks received on the Airflow API server, kept beside the
send ledger, read by the delivery sensor.

- :mod:`.model`: the receipt, its statuses and how callback parameters become one;
- :mod:`.store`: where receipts are kept (idempotent, purgeable);
- :mod:`.config`: the receiver's settings (``[isendpro] dlr_secret``...);
- :mod:`.app` and :mod:`.plugin`: the FastAPI receiver and the Airflow plugin mounting it.

This module imports nothing heavy: workers import it for :func:`receipts_configured`.
"""

from __future__ import annotations

from airflow_provider_isendpro.receipts.config import receipts_configured
from airflow_provider_isendpro.receipts.model import (
    DELIVERED,
    EXPIRED,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    UNKNOWN,
    DeliveryReceipt,
    InvalidReceipt,
    ReceiptFormat,
    parse_receipt,
)
from airflow_provider_isendpro.receipts.store import ReceiptStore

__all__ = [
    "DELIVERED",
    "EXPIRED",
    "FAILED",
    "FINAL_STATUSES",
    "PENDING",
    "UNKNOWN",
    "DeliveryReceipt",
    "InvalidReceipt",
    "ReceiptFormat",
    "ReceiptStore",
    "parse_receipt",
    "receipts_configured",
]
