"""Delivery receipts as the emulator plays them: which ``statut`` an SMS gets, when, and the callback request.

iSendPro calls the DLR URL of the customer area once an SMS reaches a final state (API-NOTES §7): a GET
with ``tel``, ``statut`` and presumably ``tracker`` (§11 #15). Everything unknown is configurable
(``EmulatorConfig.dlr_*``). Pure functions, no I/O: the sending thread lives in ``dlr_sender.py``, and the
``/campagne`` report reads the same :class:`Receipt`, so a row and its callback always agree.

The ``statut`` of an SMS is decided when it is accepted: a per-number override (the magic numbers
``MAGIC_DLR_*`` among them) or else a draw from the ``dlr_statuses`` mix, deterministic from its tracker
(the same tracker always gets the same ``statut``, so a test can know the outcome in advance with
:func:`draw_statut`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from . import rules
from .config import EmulatorConfig


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the emulator decided for one accepted (non-sandbox) SMS."""

    message_id: str
    tel: str
    """National form for French numbers, as in ``SentSms.tel``."""
    tracker: str | None
    statut: str | None
    """The raw ``statut`` of its receipt; ``None``: no receipt ever (``MAGIC_DLR_NONE``)."""
    due: float
    """When the receipt is due (epoch seconds, emulator clock): ``dlr_delay`` after the acceptance (or
    after ``date_envoi``, when later, with ``dlr_after_date_envoi``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unit(key: str) -> float:
    """A uniform number in [0, 1) from ``key``: stable across processes (unlike ``hash()``)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def draw_statut(config: EmulatorConfig, tel: str, tracker: str | None, fallback_key: str = "") -> str | None:
    """The ``statut`` of the receipt of an SMS to ``tel`` carrying ``tracker``.

    A per-number override wins (``None``: no receipt); else the mix, drawn from the tracker (from
    ``fallback_key``, e.g. the message id, when there is none). The mix's entries are taken in sorted
    order, so the same mix written in another order draws the same.
    """
    overrides = {_national(number): statut for number, statut in config.dlr_number_statuses.items()}
    national = _national(tel)
    if national in overrides:
        return overrides[national]
    mix = sorted(config.dlr_statuses.items())
    point = _unit(tracker or fallback_key or national) * sum(weight for _, weight in mix)
    for statut, weight in mix:
        point -= weight
        if point < 0:
            return statut
    return next(statut for statut, weight in reversed(mix) if weight > 0)


def _national(number: str) -> str:
    return rules.national(rules.normalise_number(number) or number)


def scheduled_epoch(date_envoi: str | None, gmt_zone: str | None, default_tz: tzinfo | None) -> float | None:
    """``date_envoi`` (``YYYY-MM-DD hh:mm`` in ``gmt_zone``, else the emulator's wall clock) as epoch."""
    when = rules.parse_date(date_envoi) if date_envoi else None
    if when is None:
        return None
    zone: tzinfo | None = default_tz
    if gmt_zone:
        try:
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(gmt_zone)
        except (ValueError, KeyError, OSError):  # unknown zone name: keep the default
            zone = default_tz
    return when.replace(tzinfo=zone or timezone.utc).timestamp()


def plan_receipt(
    config: EmulatorConfig,
    *,
    message_id: str,
    tel: str,
    tracker: str | None,
    accepted_at: datetime,
    date_envoi: str | None,
    gmt_zone: str | None,
) -> Receipt:
    """The receipt of one accepted SMS: its ``statut`` and when it is due."""
    start = accepted_at.timestamp()
    if config.dlr_after_date_envoi:
        scheduled = scheduled_epoch(date_envoi, gmt_zone, accepted_at.tzinfo)
        if scheduled is not None:
            start = max(start, scheduled)
    statut = draw_statut(config, tel, tracker, message_id)
    return Receipt(message_id, tel, tracker, statut, start + config.dlr_delay)


def report_statut(config: EmulatorConfig, receipt: Receipt | None, now: float) -> str:
    """A ``/campagne`` row's ``statut``: forced by ``campaign_statut``, else the receipt's once due."""
    if config.campaign_statut is not None:
        return config.campaign_statut
    if receipt is None or receipt.statut is None or now < receipt.due:
        return config.campaign_pending_statut
    return receipt.statut


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """The HTTP request of one receipt's callback, fixed when the SMS is accepted."""

    method: str
    url: str
    """The full URL (for ``GET`` with the receipt's parameters in the query string)."""
    body: bytes | None
    """A form body for ``POST``."""
    params: tuple[tuple[str, str], ...]
    timeout: float
    retries: int
    retry_delay: float


def callback_request(config: EmulatorConfig, receipt: Receipt) -> CallbackRequest | None:
    """The callback for ``receipt``, or ``None`` when there is none (no ``dlr_url``, no receipt).

    Parameters in the order number, status, tracker, after whatever query ``dlr_url`` already has; a
    parameter whose name is configured empty is left out, and so is ``tracker`` when the SMS had none.
    """
    if config.dlr_url is None or receipt.statut is None:
        return None
    names = config.dlr_params
    values = (("number", receipt.tel), ("status", receipt.statut), ("tracker", receipt.tracker))
    params = tuple((names[key], value) for key, value in values if names[key] and value is not None)
    encoded = urlencode(params)
    url = config.dlr_url
    body: bytes | None = None
    if config.dlr_method == "GET":
        split = urlsplit(url)
        query = f"{split.query}&{encoded}" if split.query else encoded
        url = urlunsplit((split.scheme, split.netloc, split.path, query, split.fragment))
    else:
        body = encoded.encode("ascii")
    return CallbackRequest(
        method=config.dlr_method,
        url=url,
        body=body,
        params=params,
        timeout=config.dlr_timeout,
        retries=config.dlr_retries,
        retry_delay=config.dlr_retry_delay,
    )
