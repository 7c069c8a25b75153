"""Blocking iSendPro client on a pooled ``requests.Session`` (one TCP/TLS connection reused across calls)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

from airflow_provider_isendpro.client import endpoints
from airflow_provider_isendpro.client.calls import ApiCall, WireRequest, to_wire
from airflow_provider_isendpro.client.config import ClientConfig
from airflow_provider_isendpro.client.execution import (
    Retrying,
    log,
    redact_keyid_in_library_logs,
    sync_operation,
)
from airflow_provider_isendpro.client.responses import (
    TLS_FAILURE,
    DownloadSink,
    TransportFailure,
    connect_failure_reason,
    decode,
    failure_error,
)
from airflow_provider_isendpro.errors import IsendproError

T = TypeVar("T")
_CHUNK = 1 << 16


def requests_failure(exc: requests.RequestException) -> TransportFailure:
    """Classify a ``requests`` exception by whether the request can have reached iSendPro.

    Only the exception's type is used: its text contains the URL, which may hold the key.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return TransportFailure(sent=False, timeout=True, reason=connect_failure_reason(exc, timeout=True))
    if isinstance(exc, requests.ReadTimeout):
        return TransportFailure(sent=True, timeout=True, reason="read timeout")
    if isinstance(exc, requests.exceptions.SSLError):
        return TransportFailure(sent=False, timeout=False, reason=TLS_FAILURE)
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return TransportFailure(sent=False, timeout=False, reason=connect_failure_reason(exc))
    if isinstance(exc, requests.ConnectionError):
        return TransportFailure(sent=True, timeout=False, reason="connection closed before the answer")
    return TransportFailure(sent=True, timeout=False, reason=type(exc).__name__)


def _never_connected(exc: BaseException) -> bool:
    from urllib3.exceptions import NewConnectionError

    seen: BaseException | None = exc
    for _ in range(5):
        reason = getattr(seen, "reason", None)
        if isinstance(seen, NewConnectionError) or isinstance(reason, NewConnectionError):
            return True
        nxt = seen.args[0] if seen is not None and seen.args else None
        seen = nxt if isinstance(nxt, BaseException) else None
    return False


class IsendproClient:
    """iSendPro API client: one typed method per operation (see ``endpoints.py`` for their parameters).

    Create it once and reuse it: the HTTP connection is pooled. Use it as a context manager, or call
    :meth:`close`. ``sleep`` is injectable so that tests never wait.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        redact_keyid_in_library_logs("urllib3.connectionpool")
        self.config = config
        self._session = session or requests.Session()
        self._sleep = sleep

    def __enter__(self) -> IsendproClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"IsendproClient(base_url={self.config.base_url!r})"

    def execute(self, call: ApiCall[T]) -> T:
        """Run a call built by ``endpoints``, retrying only as ``call.repeatable`` and the policy allow."""
        retrying = Retrying(call, self.config)
        wire = to_wire(call, self.config)
        while True:
            retrying.start()
            try:
                return retrying.done(self._attempt(call, wire))
            except IsendproError as error:
                self._sleep(retrying.delay_after(error))

    def _attempt(self, call: ApiCall[T], wire: WireRequest) -> T:
        failure: TransportFailure | None = None
        started = time.monotonic()
        try:
            response = self._session.request(
                wire.method, wire.url, params=wire.params, json=wire.json, data=wire.data,
                headers=wire.headers, timeout=self.config.timeouts, allow_redirects=False,
                stream=call.download_to is not None,
            )  # fmt: skip
        except requests.RequestException as exc:
            failure = requests_failure(exc)
        if failure is not None:  # raised outside the except block: no chained exception shows the URL
            raise failure_error(call, failure, wire.url)
        with response:
            log.debug(
                "iSendPro %s: HTTP %d in %.0f ms",
                call.label, response.status_code, (time.monotonic() - started) * 1000,
            )  # fmt: skip
            return self._read(call, wire, response)

    def _read(self, call: ApiCall[T], wire: WireRequest, response: requests.Response) -> T:
        failure: TransportFailure | None = None
        sink = (
            DownloadSink(call, response.status_code, response.headers, wire.url)
            if call.download_to is not None
            else None
        )
        body = b""
        try:
            if sink is None:
                body = response.content
            else:
                for chunk in response.iter_content(_CHUNK):
                    sink.feed(chunk)
        except requests.RequestException as exc:
            failure = requests_failure(exc)
        if failure is not None:
            if sink is not None:
                sink.abort()
            raise failure_error(
                call, TransportFailure(sent=True, timeout=failure.timeout, reason=failure.reason)
            )
        if sink is not None:
            result: T = sink.result()
            return result
        codes = self.config.credit_error_codes
        return call.parse(
            decode(call, response.status_code, response.headers, body, wire.url, credit_codes=codes)
        )

    send_sms = sync_operation(endpoints.send_sms)
    send_sms_multi = sync_operation(endpoints.send_sms_multi)
    send_to_contact_list = sync_operation(endpoints.send_to_contact_list)
    get_credit = sync_operation(endpoints.get_credit)
    hlr_lookup = sync_operation(endpoints.hlr_lookup)
    count_message = sync_operation(endpoints.count_message)
    download_campaign_report = sync_operation(endpoints.download_campaign_report)
    create_contact_list = sync_operation(endpoints.create_contact_list)
    add_to_contact_list = sync_operation(endpoints.add_to_contact_list)
    remove_from_contact_list = sync_operation(endpoints.remove_from_contact_list)
    blacklist_add = sync_operation(endpoints.blacklist_add)
    blacklist_remove = sync_operation(endpoints.blacklist_remove)
    download_blacklist = sync_operation(endpoints.download_blacklist)
    create_short_link = sync_operation(endpoints.create_short_link)
    create_sub_account = sync_operation(endpoints.create_sub_account)
    set_sub_account_price = sync_operation(endpoints.set_sub_account_price)
    add_sub_account_credit = sync_operation(endpoints.add_sub_account_credit)
    set_sub_account_restrictions = sync_operation(endpoints.set_sub_account_restrictions)
