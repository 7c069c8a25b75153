"""What the emulator remembers: accounts and credit, blacklist, répertoires, and the logs tests inspect.

Records are slotted dataclasses and the send log shares one text object per batch, so a
million-recipient benchmark stays within memory; ``record_*`` switches keep only the counters.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dlr import Receipt

MICROS = 1_000_000


def to_micros(euros: float | str) -> int:
    """Euros as integer micro-euros, so repeated debits never drift (0.1 + 0.2 != 0.3)."""
    return round(float(euros) * MICROS)


def format_euros(micros: int) -> str:
    """``"99.85"``, ``"100.0"``: the way iSendPro prints a credit (the spec example is ``"10.0"``)."""
    return repr(round(micros / MICROS, 6))


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One HTTP request received on an API path (before validation, faults included)."""

    method: str
    path: str
    """Relative to ``/cgi-bin``, e.g. ``"/sms"``."""
    query: dict[str, Any]
    body: Any
    """Parsed JSON, or the form fields as a dict, or ``None`` (no body or unparsable)."""
    content_type: str | None
    headers: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SentSms:
    """One SMS the emulator accepted for one recipient (it delivers nothing)."""

    tel: str
    """The number as routed (national form for French numbers)."""
    text: str
    sender: str | None
    tracker: str | None
    date_envoi: str | None
    gmt_zone: str | None
    segments: int
    encoding: str
    ucs2: bool
    nostop: bool
    sandbox: bool
    timestamp: float
    request_index: int
    """Index of the request (1-based, all API paths counted) that carried it."""
    batch_index: int
    """Position of the recipient inside its request."""
    message_id: str
    account: str
    """``"main"`` or the sub-account login (never a keyid)."""
    path: str
    cost: float
    """Euros debited (0 in sandbox)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Account:
    """An account the emulator knows: the main one or a sub-account (its key works as a keyid)."""

    label: str
    credit_micros: int
    subaccount_id: str | None = None
    keyid: str | None = None
    password: str | None = None
    price: str | None = None
    country_code: str | None = None
    restriction_stop: str = "1"
    restriction_time: str = "1"


@dataclass(slots=True)
class Repertoire:
    repertoire_id: str
    name: str
    members: dict[str, dict[str, str]] = field(default_factory=dict)


class EmulatorState:
    """All mutable state behind one lock; handlers hold ``lock`` across check-then-act sequences."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.main: Account = Account(label="main", credit_micros=0)
        self.blacklist: dict[str, str] = {}
        self.repertoires: dict[str, Repertoire] = {}
        self.shortlinks: dict[str, str] = {}
        self.keywords: set[str] = set()
        self.requests: list[ReceivedRequest] = []
        self.sent: list[SentSms] = []
        self.receipts: dict[str, Receipt] = {}
        """``message_id`` -> the delivery receipt decided when the SMS was accepted (not sandbox)."""
        self.request_count = 0
        self.requests_per_path: Counter[str] = Counter()
        self.sms_sent = 0
        self.sandbox_sent = 0
        self.segments_billed = 0
        self.rejected_recipients = 0
        self.hlr_lookups = 0
        self.next_id = 0
        self.rate_window = (0, 0)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.request_count,
                "requests_per_path": dict(self.requests_per_path),
                "sms_sent": self.sms_sent,
                "sandbox_sent": self.sandbox_sent,
                "segments_billed": self.segments_billed,
                "rejected_recipients": self.rejected_recipients,
                "hlr_lookups": self.hlr_lookups,
            }
