"""Client configuration: where iSendPro is, which key, how long to wait, how hard to retry.

Validated once, before any request, so that a bad setting fails with a message that says what to fix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from airflow_provider_isendpro.client.retry import RetryPolicy
from airflow_provider_isendpro.errors import IsendproConfigError

DEFAULT_BASE_URL = "https://apirest.isendpro.com/cgi-bin"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
USER_AGENT = "airflow-provider-isendpro"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses, where plain ``http`` is allowed (the emulator)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str) -> str:
    """Return ``url`` without a trailing slash, or raise if it is not an https URL (http only on loopback)."""
    cleaned = (url or "").strip().rstrip("/")
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IsendproConfigError(
            f"base URL {cleaned!r} has no http(s) scheme or no host: "
            f"use the full URL, e.g. {DEFAULT_BASE_URL!r}"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise IsendproConfigError(
            f"base URL {cleaned!r} uses plain http: the API key would travel unencrypted. "
            "Use https (plain http is accepted only for a loopback emulator such as http://127.0.0.1)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise IsendproConfigError(
            "base URL must not carry credentials, a query or a fragment: put the API key in the "
            "connection's password field"
        )
    return cleaned


def _positive_seconds(name: str, value: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise IsendproConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise IsendproConfigError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return seconds


@dataclass(frozen=True)
class ClientConfig:
    """Everything the iSendPro client needs. The API key is never part of ``repr()``.

    :param api_key: the account's ``keyid`` (Mon compte → Mon API).
    :param base_url: API root, ``https://apirest.isendpro.com/cgi-bin`` unless you use the emulator.
    :param connect_timeout: seconds to open the connection.
    :param read_timeout: seconds to wait for the answer once the request is sent.
    :param sandbox: send iSendPro's ``sandbox`` flag on SMS sends (test mode, not billed).
    :param retry: how reads are retried; sends are only ever retried when nothing reached iSendPro.
    :param on_secret: called with every secret the API hands back (sub-account keys), so the caller can
        mask it in logs (the hook passes Airflow's ``mask_secret``).
    """

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    sandbox: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_secret: Callable[[str], object] | None = field(default=None, repr=False, compare=False)
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise IsendproConfigError("the iSendPro API key (keyid) is empty")
        object.__setattr__(self, "api_key", self.api_key.strip())
        object.__setattr__(self, "base_url", validate_base_url(self.base_url))
        object.__setattr__(
            self, "connect_timeout", _positive_seconds("connect_timeout", self.connect_timeout)
        )
        object.__setattr__(self, "read_timeout", _positive_seconds("read_timeout", self.read_timeout))

    @property
    def timeouts(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def report_secret(self, value: str) -> None:
        if self.on_secret is not None and value:
            self.on_secret(value)
