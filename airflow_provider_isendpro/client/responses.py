"""What iSendPro's answers mean: envelope normalisation, error classification, typed results.

Shared by the sync and async clients. The French response field names are read here and nowhere else.
Facts from API-NOTES §5: ``etat.etat`` is a list, a single object, or (``/credit``) flat; ``code`` is an
int or a string; an entry with a code and no ``tel`` is a request-level error; per-recipient failures
(11, 21...) arrive inside HTTP 200 next to successes; HTTP 400 carries the ``Erreur`` body.
"""

from __future__ import annotations

import email.utils
import json
import os
import tempfile
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from airflow_provider_isendpro.client.calls import ApiCall
from airflow_provider_isendpro.client.config import DEFAULT_CREDIT_ERROR_CODES, shown_url
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
from airflow_provider_isendpro.errors import (
    IsendproApiError,
    IsendproAuthError,
    IsendproConnectError,
    IsendproCreditRefusedError,
    IsendproError,
    IsendproRateLimitError,
    IsendproResponseError,
    IsendproServerError,
    IsendproTimeoutError,
    IsendproTransportError,
    IsendproUnknownOutcomeError,
)

#: iSendPro's code for refused credentials (seen in the Symfony bridge's tests).
AUTH_ERROR_CODES = frozenset({3})
#: HLR ``operateur`` values that mean "no operator": the number is not valid (API-NOTES §11 #13).
HLR_INVALID_MARKERS = frozenset({"", "?", "0", "INCONNU", "UNKNOWN"})
ALLOW_LIST_HINT = (
    "check the API key, and that this machine's public IP is on the account's allow-list "
    "(iSendPro customer area: Mon compte → Mon API)"
)
#: Part of the error for a failed TLS handshake: the server's certificate or protocol is the cause.
TLS_HINT = (
    "the server did not complete a TLS handshake: check the base URL's scheme (the local emulator speaks "
    "plain http, e.g. http://127.0.0.1:8025/cgi-bin) and, for iSendPro, the machine's CA certificates"
)
#: Part of the error for an answer that is not iSendPro's (an HTML page, a 404): the URL's path is wrong.
NOT_THE_API_HINT = (
    "this does not look like iSendPro's API: check the base URL's path "
    "(iSendPro: https://apirest.isendpro.com/cgi-bin; the local emulator: http://127.0.0.1:8025/cgi-bin)"
)
_ERROR_BODY_LIMIT = 1 << 20


# --------------------------------------------------------------------------------------------------
# Failures below HTTP


TLS_FAILURE = "TLS handshake failed"
REFUSED = "connection refused"
NOT_RESOLVED = "host name not resolved"
CONNECT_TIMEOUT = "connect timeout"
UNREACHABLE = "host unreachable"

#: What to check, per reason a connection could not be opened (the URL's scheme, host and port are named
#: before it; TLS has its own hint).
_CONNECT_HINTS = {
    REFUSED: "nothing listens on that host and port: check the base URL's host and port, and that "
    "the server (or the local emulator: python -m airflow_provider_isendpro.testing) is running",
    NOT_RESOLVED: "check the host name in the base URL (iSendPro: apirest.isendpro.com; the local "
    "emulator: 127.0.0.1 or localhost) and this machine's DNS",
    CONNECT_TIMEOUT: "no answer to the connection attempt: check the base URL's host and port, and "
    "that this machine can reach it (firewall, proxy, iSendPro's IP allow-list)",
    UNREACHABLE: "check the base URL's host and this machine's network route to it",
}


@dataclass(frozen=True)
class TransportFailure:
    """A request that got no HTTP answer. ``sent`` is False only when nothing can have reached iSendPro."""

    sent: bool
    timeout: bool
    reason: str


def connect_failure_reason(exc: BaseException, *, timeout: bool = False) -> str:
    """Why a connection could not be opened, from the exception chain of either HTTP library.

    Looks only at exception types and errno values, never at texts (they hold the URL).
    """
    import errno
    import socket
    import ssl

    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    found: list[BaseException] = []
    while stack and len(found) < 32:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        reason = getattr(item, "reason", None)
        stack.extend(
            [item.__cause__, item.__context__, reason if isinstance(reason, BaseException) else None]
        )
        stack.extend(arg for arg in item.args if isinstance(arg, BaseException))
    if any(isinstance(e, ssl.SSLError) for e in found):
        return TLS_FAILURE
    if any(isinstance(e, socket.gaierror) for e in found):
        return NOT_RESOLVED
    if any(isinstance(e, ConnectionRefusedError) for e in found):
        return REFUSED
    if timeout or any(isinstance(e, TimeoutError) for e in found):
        return CONNECT_TIMEOUT
    unreachable = (errno.EHOSTUNREACH, errno.ENETUNREACH)
    if any(isinstance(e, OSError) and e.errno in unreachable for e in found):
        return UNREACHABLE
    return REFUSED


def failure_error(call: ApiCall[Any], failure: TransportFailure, url: str | None = None) -> IsendproError:
    """The error for a request that got no answer; an unknown outcome when it was sent and not repeatable.

    ``url`` (the request's) is shown as scheme, host and port only: never its path's query or the key.
    """
    if not failure.sent:
        at = f" at {shown_url(url, path=False)}" if url else ""
        hint = TLS_HINT if failure.reason == TLS_FAILURE else _CONNECT_HINTS.get(failure.reason)
        return IsendproConnectError(
            f"{call.label}: could not connect to iSendPro{at} ({failure.reason}); nothing was sent"
            + (f"; {hint}" if hint else "")
        )
    if not call.repeatable:
        return _unknown_outcome(call, failure.reason)
    if failure.timeout:
        return IsendproTimeoutError(f"{call.label}: no answer from iSendPro in time ({failure.reason})")
    return IsendproTransportError(f"{call.label}: connection lost ({failure.reason})")


def _unknown_outcome(
    call: ApiCall[Any], reason: str, http_status: int | None = None, hint: str = ""
) -> IsendproError:
    return IsendproUnknownOutcomeError(
        f"{call.label}: {reason} after the request was sent; iSendPro may or may not have carried it "
        f"out, so it was not retried (a resend could duplicate it){hint}",
        http_status=http_status,
    )


# --------------------------------------------------------------------------------------------------
# HTTP status and envelope


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def code_of(entry: Mapping[str, Any]) -> int | None:
    """``code`` as an int whatever its JSON type (API-NOTES §5.2); None when absent."""
    raw = entry.get("code")
    if raw is None or raw == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return -1


def etat_entries(body: Any) -> list[dict[str, Any]]:
    """Normalise the three JSON envelope shapes (list, single object, flat) to a list of entries."""
    outer = body.get("etat") if isinstance(body, dict) else None
    if not isinstance(outer, dict):
        raise IsendproResponseError("the answer has no 'etat' object")
    inner = outer.get("etat", outer)
    if isinstance(inner, dict):
        return [inner]
    if isinstance(inner, list) and all(isinstance(e, dict) for e in inner):
        return inner
    raise IsendproResponseError("the answer's 'etat' is neither an object nor a list of objects")


def _api_error(
    call: ApiCall[Any], entry: Mapping[str, Any], http_status: int, credit_codes: Collection[int]
) -> IsendproApiError:
    code = code_of(entry)
    message = str(entry.get("message", "")).strip() or "no message"
    text = f"{call.label}: iSendPro refused the request: code {code}, {message!r}"
    if code in AUTH_ERROR_CODES or http_status in (401, 403):
        return IsendproAuthError(f"{text}; {ALLOW_LIST_HINT}", code=code, http_status=http_status)
    if code is not None and code in credit_codes:
        return IsendproCreditRefusedError(
            f"{text}; the account's credit does not cover it: top it up in iSendPro's customer area",
            code=code, http_status=http_status,
        )  # fmt: skip
    return IsendproApiError(text, code=code, http_status=http_status)


def _looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml"))


def decode(
    call: ApiCall[Any],
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    url: str | None = None,
    *,
    credit_codes: Collection[int] = DEFAULT_CREDIT_ERROR_CODES,
) -> list[dict[str, Any]]:
    """Check the status and envelope of a JSON answer; return its entries or raise the right error.

    ``url`` (the request's, shown without any query) names where a wrong answer came from;
    ``credit_codes`` are the codes raised as :class:`IsendproCreditRefusedError` (the client's
    ``credit_error_codes``).
    """
    if status == 429:
        wait = retry_after_seconds(headers.get("Retry-After") or headers.get("retry-after"))
        after = f", retry after {wait:g} s" if wait is not None else ""
        raise IsendproRateLimitError(
            f"{call.label}: iSendPro is rate limiting (HTTP 429{after})", http_status=429, retry_after=wait
        )
    if status >= 500:
        if not call.repeatable:
            raise _unknown_outcome(call, f"HTTP {status}", http_status=status)
        raise IsendproServerError(f"{call.label}: iSendPro answered HTTP {status}", http_status=status)
    try:
        entries = etat_entries(json.loads(body.decode("utf-8-sig")))
    except (UnicodeDecodeError, ValueError, IsendproResponseError) as exc:
        html = _looks_like_html(body)
        why = (
            exc.message
            if isinstance(exc, IsendproResponseError)
            else ("an HTML page" if html else "not JSON")
        )
        shown = shown_url(url) if url else "iSendPro"
        if status >= 400:
            hint = f"; {NOT_THE_API_HINT}" if html or status in (404, 405) else ""
            raise IsendproApiError(
                f"{call.label}: {shown} answered HTTP {status} with an unreadable body ({why}){hint}",
                http_status=status,
            ) from None
        source, hint = (f" from {shown}", f"; {NOT_THE_API_HINT}") if html and url else ("", "")
        if not call.repeatable:
            raise _unknown_outcome(
                call, f"an unreadable answer{source} ({why})", http_status=status, hint=hint
            ) from None
        raise IsendproResponseError(
            f"{call.label}: unreadable answer{source} ({why}){hint}", http_status=status
        ) from None
    if status >= 300:
        coded = next((e for e in entries if code_of(e) is not None), {})
        raise _api_error(call, coded, status, credit_codes)
    for entry in entries:
        code = code_of(entry)
        if code is not None and "tel" not in entry and not _is_success(code):
            raise _api_error(call, entry, status, credit_codes)
    return entries


def _is_success(code: int) -> bool:
    # 0 for sends; creations answer 2xx "done" codes (230 sub-account, 250 short link).
    return code == 0 or 200 <= code < 300


# --------------------------------------------------------------------------------------------------
# Binary answers (zip files)


class DownloadSink:
    """Receives a binary answer chunk by chunk: a zip goes to the destination, anything else is an error.

    The spec declares these answers ``application/json`` even when they are zip files, so the body is
    recognised by its first bytes, not by its content type.
    """

    _ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")

    def __init__(
        self, call: ApiCall[Any], status: int, headers: Mapping[str, str], url: str | None = None
    ) -> None:
        self._call = call
        self._url = url
        self._status = status
        self._headers = headers
        self._head = b""
        self._mode: Literal["undecided", "file", "error"] = "undecided"
        self._file: IO[bytes] | None = None
        self._tmp_path: str | None = None
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._mode == "undecided":
            self._head += chunk
            if len(self._head) < 4:
                return
            is_zip = self._status == 200 and self._head[:4] in self._ZIP_MAGIC
            self._mode = "file" if is_zip else "error"
            chunk, self._head = self._head, b""
        if self._mode == "file":
            self._write(chunk)
        elif len(self._head) < _ERROR_BODY_LIMIT:
            self._head += chunk

    def _write(self, chunk: bytes) -> None:
        if self._file is None:
            self._file = self._open()
        self._file.write(chunk)
        self._size += len(chunk)

    def _open(self) -> IO[bytes]:
        target = self._call.download_to
        if target is None:
            raise IsendproResponseError(f"{self._call.label}: a binary answer needs a destination")
        if not isinstance(target, (str, os.PathLike)):
            return target
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp_path = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        return os.fdopen(fd, "wb")

    def finish(self) -> Any:
        """Close the file (renamed into place only when complete) and return the parsed result."""
        if self._mode != "file":
            entries = decode(self._call, self._status, self._headers, self._head, self._url)
            raise IsendproResponseError(
                f"{self._call.label}: expected a zip file, got a JSON answer with "
                f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} and no error code",
                http_status=self._status,
            )
        target = self._call.download_to
        path: str | None = None
        if self._tmp_path is not None and self._file is not None:
            self._file.close()
            assert isinstance(target, (str, os.PathLike))
            path = os.fspath(target)
            os.replace(self._tmp_path, path)
            self._tmp_path = None
        return self._call.parse(Download(path=path, size=self._size))

    def result(self) -> Any:
        """:meth:`finish`, removing the partial file if finishing fails (both transports end with it)."""
        try:
            return self.finish()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Remove a partial file after a failure, so a half download is never mistaken for a report."""
        if self._tmp_path is not None and self._file is not None:
            self._file.close()
            Path(self._tmp_path).unlink(missing_ok=True)
            self._tmp_path = None


# --------------------------------------------------------------------------------------------------
# Typed results, one parser per operation


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _recipient(entry: Mapping[str, Any]) -> RecipientStatus:
    code = code_of(entry)
    return RecipientStatus(
        number=str(entry.get("tel", "")),
        code=-1 if code is None else code,
        message=str(entry.get("message", "")),
        segments=_int_or_none(entry.get("smslong")),
        raw=dict(entry),
    )


def parse_send(entries: list[dict[str, Any]]) -> SendResult:
    return SendResult(recipients=[_recipient(e) for e in entries])


def parse_credit(entries: list[dict[str, Any]]) -> Credit:
    entry = entries[0] if entries else {}
    try:
        euros = float(str(entry["credit"]).replace(",", "."))
    except (KeyError, ValueError):
        raise IsendproResponseError("getCredit: the answer has no readable 'credit' value") from None
    return Credit(euros=euros, sms_estimate=_int_or_none(entry.get("quantite")))


def parse_hlr(entries: list[dict[str, Any]]) -> list[HlrResult]:
    results = []
    for entry in entries:
        operator = str(entry.get("operateur") or "").strip()
        results.append(
            HlrResult(
                number=str(entry.get("tel", "")),
                operator=None if operator.upper() in HLR_INVALID_MARKERS else operator,
                raw=dict(entry),
            )
        )
    return results


def parse_count(entries: list[dict[str, Any]]) -> MessageCount:
    entry = entries[0] if entries else {}
    characters, segments = _int_or_none(entry.get("nb_caractere")), _int_or_none(entry.get("nb_sms"))
    if characters is None or segments is None:
        raise IsendproResponseError("comptage: the answer has no 'nb_caractere'/'nb_sms' values")
    return MessageCount(number=str(entry.get("tel", "")), characters=characters, segments=segments)


def parse_contact_list(entries: list[dict[str, Any]]) -> ContactList:
    entry = entries[0] if entries else {}
    list_id = entry.get("repertoireId")
    if list_id in (None, ""):
        raise IsendproResponseError("repertoireCrea: the answer has no 'repertoireId'")
    code = code_of(entry)
    return ContactList(
        list_id=str(list_id), code=0 if code is None else code, message=str(entry.get("message", ""))
    )


def parse_contact_list_edit(entries: list[dict[str, Any]]) -> ContactListEdit:
    list_id = next((str(e["repertoireId"]) for e in entries if e.get("repertoireId")), "")
    return ContactListEdit(list_id=list_id, recipients=[_recipient(e) for e in entries])


def parse_blacklist_change(entries: list[dict[str, Any]]) -> BlacklistChange:
    entry = entries[0] if entries else {}
    status = str(entry.get("listeNoire", ""))
    return BlacklistChange(number=str(entry.get("tel", "")), ok=status.upper() == "OK", status=status)


def parse_short_link(entries: list[dict[str, Any]]) -> ShortLink:
    entry = entries[0] if entries else {}
    if not entry.get("shortlink"):
        raise IsendproResponseError("addShortlink: the answer has no 'shortlink'")
    code = code_of(entry)
    return ShortLink(
        url=str(entry["shortlink"]), code=0 if code is None else code, message=str(entry.get("message", ""))
    )


def parse_sub_account(entries: list[dict[str, Any]]) -> SubAccount:
    entry = entries[0] if entries else {}
    key = entry.get("subAccountKeyId") or entry.get("subAccountKeyid")
    if not key:
        raise IsendproResponseError("subaccountAdd: the answer has no 'subAccountKeyId'")
    code = code_of(entry)
    # The spec's example puts the message under 'tel' (API-NOTES §6.10): accept both.
    return SubAccount(
        account_id=str(entry.get("subAccountId", "")),
        login=str(entry.get("subAccountLogin", "")),
        code=0 if code is None else code,
        message=str(entry.get("message") or entry.get("tel") or ""),
        api_key=str(key),
    )


def parse_sub_account_edit(entries: list[dict[str, Any]]) -> SubAccountEdit:
    entry = entries[0] if entries else {}
    code = code_of(entry)
    account_id = entry.get("subAccountId")
    return SubAccountEdit(
        account_id=None if account_id in (None, "") else str(account_id),
        code=0 if code is None else code,
        message=str(entry.get("message", "")),
    )


def parse_download(download: Download) -> Download:
    return download
