"""Async iSendPro client on ``httpx.AsyncClient``, for triggers and async notifiers.

Same operations, same request building and response parsing as the sync client: only the bytes move
differently. ``httpx`` is imported when the client is created, not when this module is imported.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from airflow_provider_isendpro.client import endpoints
from airflow_provider_isendpro.client.calls import ApiCall, WireRequest, to_wire
from airflow_provider_isendpro.client.config import ClientConfig
from airflow_provider_isendpro.client.execution import (
    Retrying,
    async_operation,
    log,
    redact_keyid_in_library_logs,
)
from airflow_provider_isendpro.client.responses import (
    DownloadSink,
    TransportFailure,
    connect_failure_reason,
    decode,
    failure_error,
)
from airflow_provider_isendpro.errors import IsendproError

if TYPE_CHECKING:
    import ssl

    import httpx

T = TypeVar("T")


def httpx_failure(exc: Exception) -> TransportFailure:
    """Classify an ``httpx`` exception by whether the request can have reached iSendPro (type only)."""
    import httpx

    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        timeout = isinstance(exc, httpx.TimeoutException)
        return TransportFailure(
            sent=False, timeout=timeout, reason=connect_failure_reason(exc, timeout=timeout)
        )
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure(sent=True, timeout=True, reason="read timeout")
    return TransportFailure(sent=True, timeout=False, reason="connection closed before the answer")


def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), built
    once per process and CA setting. Loading the CA bundle costs ~30 ms of CPU; without this every client
    paid it, on the triggerer's event loop too (a Deadline Alert, a deferred sensor's poll)."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()  # reads the same two variables: they are this cache's key


class AsyncIsendproClient:
    """Async iSendPro client: the methods of :class:`IsendproClient`, awaited.

    Use ``async with`` or call :meth:`aclose`. ``sleep`` is injectable so that tests never wait.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        import httpx

        redact_keyid_in_library_logs("httpx")
        self.config = config
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            follow_redirects=False,
            verify=tls_context(),
        )
        self._sleep = sleep

    async def __aenter__(self) -> AsyncIsendproClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"AsyncIsendproClient(base_url={self.config.base_url!r})"

    async def execute(self, call: ApiCall[T]) -> T:
        """Run a call built by ``endpoints``, retrying only as ``call.repeatable`` and the policy allow."""
        retrying = Retrying(call, self.config)
        wire = to_wire(call, self.config)
        while True:
            retrying.start()
            try:
                return retrying.done(await self._attempt(call, wire))
            except IsendproError as error:
                await self._sleep(retrying.delay_after(error))

    async def _attempt(self, call: ApiCall[T], wire: WireRequest) -> T:
        import httpx

        failure: TransportFailure | None = None
        sink: DownloadSink | None = None
        body = b""
        started = time.monotonic()
        request = self._http.build_request(
            wire.method, wire.url, params=wire.params, json=wire.json, data=wire.data, headers=wire.headers
        )
        response: httpx.Response | None = None
        try:
            response = await self._http.send(request, stream=True)
            log.debug(
                "iSendPro %s: HTTP %d in %.0f ms",
                call.label, response.status_code, (time.monotonic() - started) * 1000,
            )  # fmt: skip
            if call.download_to is not None:
                sink = DownloadSink(call, response.status_code, response.headers, wire.url)
                async for chunk in response.aiter_bytes():
                    sink.feed(chunk)
            else:
                body = await response.aread()
        except httpx.HTTPError as exc:
            failure = httpx_failure(exc)
            if response is not None:  # the answer had started: the request was sent
                failure = TransportFailure(sent=True, timeout=failure.timeout, reason=failure.reason)
        finally:
            if response is not None:
                await response.aclose()
        if failure is not None:  # raised outside the except block: no chained exception shows the URL
            if sink is not None:
                sink.abort()
            raise failure_error(call, failure, wire.url)
        assert response is not None
        if sink is not None:
            result: T = sink.result()
            return result
        codes = self.config.credit_error_codes
        return call.parse(
            decode(call, response.status_code, response.headers, body, wire.url, credit_codes=codes)
        )

    send_sms = async_operation(endpoints.send_sms)
    send_sms_multi = async_operation(endpoints.send_sms_multi)
    send_to_contact_list = async_operation(endpoints.send_to_contact_list)
    get_credit = async_operation(endpoints.get_credit)
    hlr_lookup = async_operation(endpoints.hlr_lookup)
    count_message = async_operation(endpoints.count_message)
    download_campaign_report = async_operation(endpoints.download_campaign_report)
    create_contact_list = async_operation(endpoints.create_contact_list)
    add_to_contact_list = async_operation(endpoints.add_to_contact_list)
    remove_from_contact_list = async_operation(endpoints.remove_from_contact_list)
    blacklist_add = async_operation(endpoints.blacklist_add)
    blacklist_remove = async_operation(endpoints.blacklist_remove)
    download_blacklist = async_operation(endpoints.download_blacklist)
    create_short_link = async_operation(endpoints.create_short_link)
    create_sub_account = async_operation(endpoints.create_sub_account)
    set_sub_account_price = async_operation(endpoints.set_sub_account_price)
    add_sub_account_credit = async_operation(endpoints.add_sub_account_credit)
    set_sub_account_restrictions = async_operation(endpoints.set_sub_account_restrictions)
