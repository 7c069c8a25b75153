"""What a delivery receipt (DLR) is, and how iSendPro's callback parameters become one.

iSendPro calls a URL set in its customer area when an SMS reaches a final state (API-NOTES §7): an HTTP GET
with ``tel`` and ``statut`` (``0`` seen as delivered) and, presumably, the ``tracker`` the send carried.
The full parameter list and the other ``statut`` values are unknown, so the parameter names and the
``statut`` mapping are configurable (:class:`ReceiptFormat`), and a ``statut`` outside the mapping is kept
as raw text with the status :data:`UNKNOWN` instead of being refused: iSendPro did report *something*.

Every field is validated and bounded here (:func:`parse_receipt`), before anything is stored: a receipt
is written into record names and read back by sensors, so nothing a stranger sends may be unbounded.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: The SMS reached the phone.
DELIVERED = "delivered"
#: The operator gave up (unknown number, phone refused...).
FAILED = "failed"
#: The validity period ran out before the phone could be reached.
EXPIRED = "expired"
#: An intermediate report (the SMS is still on its way).
PENDING = "pending"
#: A ``statut`` outside the configured mapping: kept with its raw text, and final (iSendPro reported it).
UNKNOWN = "unknown"

STATUSES = frozenset({DELIVERED, FAILED, EXPIRED, PENDING, UNKNOWN})
FINAL_STATUSES = frozenset({DELIVERED, FAILED, EXPIRED, UNKNOWN})
#: What a ``statut`` may be mapped to in ``[isendpro] dlr_statuses`` (UNKNOWN is what is left unmapped).
MAPPABLE_STATUSES = frozenset({DELIVERED, FAILED, EXPIRED, PENDING})

#: Only ``"0"`` is attested (API-NOTES §7); ``"1"`` and ``"2"`` are the emulator's defaults, an
#: assumption to check against the account's own reports (docs/receipts.md).
DEFAULT_STATUSES: Mapping[str, str] = MappingProxyType({"0": DELIVERED, "1": FAILED, "2": EXPIRED})
METHODS = frozenset({"GET", "POST", "ANY"})

#: The same rule as ``sms.params.validate_tracker``: only trackers a send could carry are accepted.
TRACKER_PATTERN = re.compile(r"[A-Za-z0-9]{1,49}")
#: Digits, optionally after ``+`` (a ``+`` left unencoded in a query string arrives as a space).
NUMBER_PATTERN = re.compile(r"[+ ]?[0-9]{3,20}")
#: A raw ``statut``: short, printable, no control characters (it is logged and shown in XComs).
RAW_STATUS_PATTERN = re.compile(r"[\w.:/+-]([\w .:/+-]{0,62}[\w.:/+-])?")
#: A configurable parameter name.
PARAM_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


class InvalidReceipt(ValueError):
    """A callback's parameters do not make a receipt. ``param`` names the parameter at fault.

    The message names the parameter and the rule, never the value: a caller may send anything, of any
    length, and the message is answered to it and logged.
    """

    def __init__(self, param: str, rule: str) -> None:
        self.param = param
        self.rule = rule
        super().__init__(f"{param}: {rule}")

    def __reduce__(self) -> tuple[type[InvalidReceipt], tuple[str, str]]:
        return type(self), (self.param, self.rule)


@dataclass(frozen=True)
class DeliveryReceipt:
    """One delivery report as stored: for ``tracker`` and ``number``, ``status`` (this module's
    vocabulary) from iSendPro's ``raw_status``, stored at ``received_at`` (ISO-8601 UTC)."""

    tracker: str
    number: str
    status: str
    raw_status: str
    received_at: str

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_json(self) -> str:
        return json.dumps(
            {
                "tracker": self.tracker,
                "number": self.number,
                "status": self.status,
                "raw_status": self.raw_status,
                "received_at": self.received_at,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> DeliveryReceipt:
        data = json.loads(text)
        return cls(
            tracker=str(data["tracker"]),
            number=str(data["number"]),
            status=str(data["status"]),
            raw_status=str(data["raw_status"]),
            received_at=str(data["received_at"]),
        )


def _config_error(message: str) -> Exception:
    from airflow_provider_isendpro.errors import IsendproConfigError

    return IsendproConfigError(message)


def parse_statuses(text: str, option: str = "[isendpro] dlr_statuses") -> dict[str, str]:
    """``"0:delivered,1:failed,2:expired"`` -> ``{"0": "delivered", ...}``.

    :raises IsendproConfigError: naming the option and the entry at fault.
    """
    mapping: dict[str, str] = {}
    for item in text.split(","):
        entry = item.strip()
        if not entry:
            continue
        raw, sep, status = entry.rpartition(":")
        raw, status = raw.strip(), status.strip().lower()
        if not sep or RAW_STATUS_PATTERN.fullmatch(raw) is None:
            raise _config_error(
                f"{option}: entry {entry[:40]!r} is not 'statut:status' (e.g. "
                "'0:delivered,1:failed,2:expired'); statut is up to 64 letters, digits or . : / + - _"
            )
        if status not in MAPPABLE_STATUSES:
            raise _config_error(
                f"{option}: entry {entry[:40]!r} maps to {status[:20]!r}, which is not one of "
                f"{', '.join(sorted(MAPPABLE_STATUSES))}"
            )
        if raw in mapping:
            raise _config_error(f"{option}: statut {raw!r} is mapped twice")
        mapping[raw] = status
    if not mapping:
        raise _config_error(f"{option} is empty: map at least one statut, e.g. '0:delivered'")
    return mapping


@dataclass(frozen=True)
class ReceiptFormat:
    """The callback's shape: parameter names, ``statut`` mapping, accepted HTTP method."""

    number_param: str = "tel"
    status_param: str = "statut"
    tracker_param: str = "tracker"
    statuses: Mapping[str, str] = field(default_factory=lambda: DEFAULT_STATUSES, hash=False)
    method: str = "GET"

    def __post_init__(self) -> None:
        names = (self.number_param, self.status_param, self.tracker_param)
        options = ("dlr_number_param", "dlr_status_param", "dlr_tracker_param")
        for option, name in zip(options, names, strict=True):
            if not isinstance(name, str) or PARAM_NAME_PATTERN.fullmatch(name) is None:
                raise _config_error(
                    f"[isendpro] {option}: {str(name)[:40]!r} is not a parameter name (a letter, then "
                    "up to 31 letters, digits or _)"
                )
        if len(set(names)) != 3:
            raise _config_error(
                "[isendpro] dlr_number_param, dlr_status_param and dlr_tracker_param must differ "
                f"(got {', '.join(names)})"
            )
        if self.method not in METHODS:
            raise _config_error(f"[isendpro] dlr_method: {str(self.method)[:20]!r} is not GET, POST or ANY")
        for raw, status in self.statuses.items():
            if RAW_STATUS_PATTERN.fullmatch(raw) is None or status not in MAPPABLE_STATUSES:
                raise _config_error(f"[isendpro] dlr_statuses: bad entry {raw[:40]!r}: {status[:20]!r}")
        object.__setattr__(self, "statuses", MappingProxyType(dict(self.statuses)))

    @property
    def params(self) -> tuple[str, str, str]:
        return (self.number_param, self.status_param, self.tracker_param)

    def allows(self, method: str) -> bool:
        return self.method == "ANY" or method.upper() == self.method

    @classmethod
    def from_config(cls) -> ReceiptFormat:
        """From ``[isendpro] dlr_number_param``, ``dlr_status_param``, ``dlr_tracker_param``,
        ``dlr_statuses`` and ``dlr_method`` (each falling back to this class's default)."""
        from airflow_provider_isendpro._compat import conf

        def get(key: str, default: str) -> str:
            return str(conf.get("isendpro", key, fallback="") or "").strip() or default

        statuses = get("dlr_statuses", "")
        return cls(
            number_param=get("dlr_number_param", cls.number_param),
            status_param=get("dlr_status_param", cls.status_param),
            tracker_param=get("dlr_tracker_param", cls.tracker_param),
            statuses=parse_statuses(statuses) if statuses else DEFAULT_STATUSES,
            method=get("dlr_method", cls.method).upper(),
        )


def utc_iso(moment: dt.datetime) -> str:
    """``2026-12-07T17:45:00.123456+00:00``: the form of ``received_at`` (sorts as it reads)."""
    if moment.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _one(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise InvalidReceipt(name, "missing")
    if not isinstance(value, str):
        raise InvalidReceipt(name, "must be text")
    return value


def parse_receipt(
    params: Mapping[str, str], fmt: ReceiptFormat | None = None, now: dt.datetime | None = None
) -> DeliveryReceipt:
    """The receipt in a callback's parameters (other parameters are ignored).

    :param now: when it is stored (default: now, UTC).
    :raises InvalidReceipt: naming the first parameter that is missing or breaks its rule.
    """
    fmt = fmt or ReceiptFormat()
    tracker = _one(params, fmt.tracker_param)
    if TRACKER_PATTERN.fullmatch(tracker) is None:
        raise InvalidReceipt(fmt.tracker_param, "must be 1 to 49 letters or digits")
    number = _one(params, fmt.number_param)
    if NUMBER_PATTERN.fullmatch(number) is None:
        raise InvalidReceipt(fmt.number_param, "must be 3 to 20 digits, optionally after +")
    if number[0] == " ":  # '+' sent unencoded in the query string
        number = "+" + number[1:]
    raw_status = _one(params, fmt.status_param)
    if RAW_STATUS_PATTERN.fullmatch(raw_status) is None:
        raise InvalidReceipt(
            fmt.status_param,
            "must be 1 to 64 letters, digits, spaces or . : / + - _ (no space at either end)",
        )
    status = fmt.statuses.get(raw_status, UNKNOWN)
    received_at = utc_iso(now or dt.datetime.now(dt.timezone.utc))
    return DeliveryReceipt(tracker, number, status, raw_status, received_at)
