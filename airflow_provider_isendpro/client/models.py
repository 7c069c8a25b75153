"""Typed results of iSendPro calls: small dataclasses whose ``to_dict()`` is plain JSON for XCom.

They carry English names; the French wire names are read in ``responses.py`` only. None of them holds
the account's API key. ``raw`` keeps iSendPro's entry verbatim, for fields this version does not model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    def secrets(self) -> tuple[str, ...]:
        """Values in this result that must be masked in logs (the client reports them)."""
        return ()


@dataclass(frozen=True)
class RecipientStatus(_Serialisable):
    """What iSendPro said about one number of a send: ``accepted`` when its code is 0."""

    number: str
    code: int
    message: str
    segments: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def accepted(self) -> bool:
        return self.code == 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accepted": self.accepted}


@dataclass(frozen=True)
class SendResult(_Serialisable):
    """The per-number outcome of one ``/sms`` or ``/smsmulti`` call, in iSendPro's order."""

    recipients: list[RecipientStatus]

    @property
    def accepted(self) -> list[RecipientStatus]:
        return [r for r in self.recipients if r.accepted]

    @property
    def rejected(self) -> list[RecipientStatus]:
        return [r for r in self.recipients if not r.accepted]

    @property
    def segments_billed(self) -> int:
        return sum(r.segments or 0 for r in self.recipients if r.accepted)

    def to_dict(self) -> dict[str, Any]:
        return {"recipients": [r.to_dict() for r in self.recipients]}


@dataclass(frozen=True)
class Credit(_Serialisable):
    """Remaining credit in euros, and iSendPro's estimate of how many SMS to France it buys."""

    euros: float
    sms_estimate: int | None = None


@dataclass(frozen=True)
class HlrResult(_Serialisable):
    """HLR answer for one number: ``operator`` as iSendPro names it (``ORAN``...), None when invalid."""

    number: str
    operator: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def valid(self) -> bool:
        return self.operator is not None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "valid": self.valid}


@dataclass(frozen=True)
class MessageCount(_Serialisable):
    """iSendPro's own count of a message (``/comptage``): characters and SMS parts."""

    number: str
    characters: int
    segments: int


@dataclass(frozen=True)
class Download(_Serialisable):
    """A file iSendPro sent back (campaign report, blacklist): where it was written and its size."""

    path: str | None
    size: int


@dataclass(frozen=True)
class ContactList(_Serialisable):
    """A répertoire (contact list) created on the account."""

    list_id: str
    code: int
    message: str


@dataclass(frozen=True)
class ContactListEdit(_Serialisable):
    """The per-number outcome of adding numbers to, or removing them from, a répertoire."""

    list_id: str
    recipients: list[RecipientStatus]


@dataclass(frozen=True)
class BlacklistChange(_Serialisable):
    """Outcome of adding a number to, or removing it from, the account's blacklist."""

    number: str
    ok: bool
    status: str


@dataclass(frozen=True)
class ShortLink(_Serialisable):
    """A short link created by iSendPro."""

    url: str
    code: int
    message: str


@dataclass(frozen=True)
class SubAccount(_Serialisable):
    """A sub-account created under the account. ``api_key`` is a secret: it is masked, and left out of
    ``to_dict()`` so that it never reaches XCom."""

    account_id: str
    login: str
    code: int
    message: str
    api_key: str = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("api_key")
        return data

    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,)


@dataclass(frozen=True)
class SubAccountEdit(_Serialisable):
    """Outcome of a sub-account change (price, credit, restrictions)."""

    account_id: str | None
    code: int
    message: str
