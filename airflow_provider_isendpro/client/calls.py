"""A transport-neutral description of one iSendPro call, and how it becomes an HTTP request.

``endpoints.py`` builds an :class:`ApiCall` per operation; the sync and async clients turn it into the
same :class:`WireRequest` here, so where ``keyid`` travels is decided in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from typing import IO, Any, Generic, Literal, TypeVar

from airflow_provider_isendpro.client.config import ClientConfig

T = TypeVar("T")

#: Where the fields (and ``keyid``) travel: JSON body, form body, or query string (the spec's choice for
#: ``/campagne`` and the liste-noire calls; such URLs hold the key and are never logged).
Placement = Literal["json", "form", "query"]
DownloadTarget = str | PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One operation, ready to send.

    :param operation: iSendPro's operationId (``sendSms``...), used in logs and error messages.
    :param repeatable: True when sending it twice is harmless (reads, idempotent changes). A call that is
        not repeatable is retried only when nothing reached iSendPro.
    :param parse: turns the normalised ``etat`` entries (or the :class:`Download` of a binary call) into
        the typed result.
    :param sandbox_capable: the call honours the ``sandbox`` flag (sends only).
    :param download_to: for binary answers (zip files): where to stream them.
    :param secrets: values in the request that must be masked in logs (sub-account keys, passwords).
    """

    operation: str
    method: Literal["GET", "POST", "PUT"]
    path: str
    fields: dict[str, Any]
    placement: Placement
    parse: Callable[[Any], T]
    repeatable: bool
    sandbox: bool | None = None
    sandbox_capable: bool = False
    download_to: DownloadTarget | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        """How errors and logs name the call: never the URL, which may hold the key."""
        return f"{self.operation} ({self.method} {self.path})"


@dataclass(frozen=True)
class WireRequest:
    """The HTTP request both transports send. ``repr`` hides everything that may hold the key."""

    method: str
    url: str = field(repr=False)
    headers: dict[str, str]
    params: dict[str, Any] | None = field(default=None, repr=False)
    json: dict[str, Any] | None = field(default=None, repr=False)
    data: dict[str, Any] | None = field(default=None, repr=False)


def to_wire(call: ApiCall[Any], config: ClientConfig) -> WireRequest:
    """Add ``keyid`` (and ``sandbox``) to the call's fields and place them as iSendPro expects."""
    fields: dict[str, Any] = {"keyid": config.api_key, **call.fields}
    sandbox = config.sandbox if call.sandbox is None else call.sandbox
    if call.sandbox_capable and sandbox:
        fields["sandbox"] = "1"
    headers = {"User-Agent": config.user_agent, "Accept": "application/json"}
    url = config.base_url + call.path
    if call.placement == "json":
        return WireRequest(call.method, url, headers, json=fields)
    if call.placement == "form":
        return WireRequest(call.method, url, headers, data=fields)
    return WireRequest(call.method, url, headers, params=fields)
