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
#: iSendPro's code for "insufficient credit": UNKNOWN in the real API (API-NOTES §5.4, §11 #1); 10 is the
#: emulator's. A connection's ``credit_error_codes`` extra replaces it once the account's code is known.
DEFAULT_CREDIT_ERROR_CODES: frozenset[int] = frozenset({10})
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


def shown_url(url: str, *, path: bool = True, default_port: bool = True) -> str:
    """``scheme://host:port[/path]`` of ``url`` for messages: never credentials, a query or a fragment
    (where a key could hide). The port is named, the scheme's default one too unless ``default_port``
    is False."""
    parts = urlsplit((url or "").strip())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and default_port:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    return origin + parts.path.rstrip("/") if path else origin


def _looks_like_localhost(host: str) -> bool:
    """A one- or two-letter slip from ``localhost`` (``localhots``, ``locahost``, ``localhost1``...)."""
    host, target = host.lower(), "localhost"
    if host == target or abs(len(host) - len(target)) > 2:
        return False
    previous = list(range(len(target) + 1))
    for i, a in enumerate(host, 1):
        current = [i]
        for j, b in enumerate(target, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    swapped = any(host[:k] + host[k + 1] + host[k] + host[k + 2 :] == target for k in range(len(host) - 1))
    return previous[-1] <= 2 or swapped


def validate_base_url(url: str) -> str:
    """Return ``url`` without a trailing slash, or raise if it is not an https URL (http only on loopback).

    Messages show the URL as :func:`shown_url` does: never what follows ``?`` or ``#``, nor credentials.
    """
    cleaned = (url or "").strip().rstrip("/")
    parts = urlsplit(cleaned)
    shown = shown_url(cleaned, default_port=False) if parts.hostname else cleaned.split("?")[0]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IsendproConfigError(
            f"base URL {shown!r} has no http(s) "
            f"scheme or no host: use the full URL, e.g. {DEFAULT_BASE_URL!r}"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        if _looks_like_localhost(parts.hostname):
            raise IsendproConfigError(
                f"base URL {shown!r}: host {parts.hostname!r} is not a loopback host; "
                "did you mean 'localhost'? (plain http is accepted only for a loopback emulator such as "
                "http://localhost:8025/cgi-bin or http://127.0.0.1:8025/cgi-bin)"
            )
        raise IsendproConfigError(
            f"base URL {shown!r} uses plain http: the API key would travel unencrypted. "
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


def parse_codes(name: str, value: object) -> frozenset[int]:
    """``10``, ``"10, 42"``, ``[10, "42"]`` or ``""`` (none) -> a set of iSendPro return codes."""
    items: list[object]
    if value is None:
        items = []
    elif isinstance(value, str):
        items = list(value.split(","))
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = [value]
    try:
        texts = [str(item).strip() for item in items if not isinstance(item, (bool, float))]
        if len(texts) != len(items):
            raise ValueError
        return frozenset(int(text) for text in texts if text)
    except ValueError:
        raise IsendproConfigError(
            f'{name} must be iSendPro return codes (integers), e.g. 10 or "10, 42", got {value!r}'
        ) from None


@dataclass(frozen=True)
class ClientConfig:
    """Everything the iSendPro client needs. The API key is never part of ``repr()``.

    :param api_key: the account's ``keyid`` (Mon compte → Mon API).
    :param base_url: API root, ``https://apirest.isendpro.com/cgi-bin`` unless you use the emulator.
    :param connect_timeout: seconds to open the connection.
    :param read_timeout: seconds to wait for the answer once the request is sent.
    :param sandbox: send iSendPro's ``sandbox`` flag on SMS sends (test mode, not billed).
    :param retry: how reads are retried; sends are only ever retried when nothing reached iSendPro.
    :param credit_error_codes: iSendPro return codes that mean "insufficient credit" (raised as
        :class:`~airflow_provider_isendpro.errors.IsendproCreditRefusedError`); default 10.
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
    credit_error_codes: frozenset[int] = DEFAULT_CREDIT_ERROR_CODES

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise IsendproConfigError("the iSendPro API key (keyid) is empty")
        object.__setattr__(self, "api_key", self.api_key.strip())
        object.__setattr__(self, "base_url", validate_base_url(self.base_url))
        object.__setattr__(
            self, "connect_timeout", _positive_seconds("connect_timeout", self.connect_timeout)
        )
        object.__setattr__(self, "read_timeout", _positive_seconds("read_timeout", self.read_timeout))
        object.__setattr__(
            self, "credit_error_codes", parse_codes("credit_error_codes", self.credit_error_codes)
        )

    @property
    def timeouts(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def report_secret(self, value: str) -> None:
        if self.on_secret is not None and value:
            self.on_secret(value)
