"""The ``isendpro`` Airflow connection, turned into an iSendPro client.

The hook reads the connection lazily (no I/O at construction, so it is cheap in DAG files), masks the
API key as soon as it reads it, refuses plain http except on loopback, and hands out the sync client for
tasks and an async one for triggers and async notifiers.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_isendpro.errors import IsendproConfigError, IsendproError

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_isendpro.client import (
        AsyncIsendproClient,
        ClientConfig,
        IsendproClient,
        RetryPolicy,
    )

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _as_bool(conn_id: str, name: str, value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise IsendproConfigError(
        f"connection {conn_id!r}: extra {name!r} must be true or false, got {value!r}; fix the connection"
    )


def _base_url(conn: Connection) -> str:
    """The API root from the connection's host field (a full URL), or iSendPro's when it is empty.

    The URI form ``isendpro://:KEY@apirest.isendpro.com/cgi-bin`` splits the URL into host and schema:
    it is rebuilt as https (the only scheme such a URI can mean for a remote host), or as http for a
    loopback host (``isendpro://:KEY@127.0.0.1:8025/cgi-bin``: the local emulator, which speaks no TLS).
    """
    from airflow_provider_isendpro.client.config import DEFAULT_BASE_URL, is_loopback_host

    host = (conn.host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" in host:
        return host
    if conn.schema:
        port = f":{conn.port}" if conn.port else ""
        scheme = "http" if is_loopback_host(host) else "https"
        return f"{scheme}://{host}{port}/{conn.schema.strip('/')}"
    raise IsendproConfigError(
        f"base URL {host!r} has no scheme: write the full URL, e.g. https://{host.rstrip('/')}"
    )


def config_from_connection(
    conn: Connection, extra: dict[str, Any], retry: RetryPolicy | None = None
) -> ClientConfig:
    """Build and validate the client configuration from a connection; errors name the connection."""
    from airflow.sdk.log import mask_secret

    from airflow_provider_isendpro.client import ClientConfig, RetryPolicy
    from airflow_provider_isendpro.client.config import DEFAULT_CREDIT_ERROR_CODES

    conn_id = conn.conn_id
    key = (conn.password or "").strip() or str(extra.get("api_key") or "").strip()
    if not key:
        raise IsendproConfigError(
            f"connection {conn_id!r} has no API key: put the iSendPro keyid in its password field "
            "(customer area: Mon compte → Mon API)"
        )
    mask_secret(key)
    try:
        return ClientConfig(
            api_key=key,
            base_url=_base_url(conn),
            connect_timeout=extra.get("connect_timeout") or 5.0,
            read_timeout=extra.get("read_timeout") or extra.get("timeout") or 30.0,
            sandbox=_as_bool(conn_id, "sandbox", extra.get("sandbox")),
            retry=retry or RetryPolicy(),
            credit_error_codes=extra.get("credit_error_codes", DEFAULT_CREDIT_ERROR_CODES),
            on_secret=mask_secret,
        )
    except IsendproConfigError as exc:
        raise IsendproConfigError(f"connection {conn_id!r}: {exc.message}; fix the connection") from None


class IsendproHook(BaseHook):
    """Interact with the iSendPro SMS API through an ``isendpro`` connection.

    The connection's **password** holds the API key (``keyid``), its **host** the API base URL (empty:
    ``https://apirest.isendpro.com/cgi-bin``); extras: ``sender`` (default sender id),
    ``connect_timeout`` and ``read_timeout`` (seconds), ``sandbox`` (true/false),
    ``credit_error_codes`` (iSendPro's code(s) for "insufficient credit", default ``10``: raised as
    :class:`~airflow_provider_isendpro.errors.IsendproCreditRefusedError`).

    :param isendpro_conn_id: the Airflow connection to use.
    :param retry: override the retry policy of read calls (sends are never retried after they left).
    """

    conn_name_attr = "isendpro_conn_id"
    default_conn_name = "isendpro_default"
    conn_type = "isendpro"
    hook_name = "iSendPro SMS"

    def __init__(
        self, isendpro_conn_id: str = default_conn_name, *, retry: RetryPolicy | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.isendpro_conn_id = isendpro_conn_id
        self._retry = retry

    # -- Airflow 3.0/3.1 connection form (3.2+ reads the declarative form in get_provider_info) --------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from airflow_provider_isendpro._compat import legacy_ui_field_behaviour

        return legacy_ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from airflow_provider_isendpro._compat import legacy_connection_form_widgets

        return legacy_connection_form_widgets()

    # -- Connection → client ---------------------------------------------------------------------------

    def _connection(self) -> Connection:
        try:
            return self.get_connection(self.isendpro_conn_id)
        except IsendproError:
            raise
        except Exception as exc:
            raise IsendproConfigError(
                f"connection {self.isendpro_conn_id!r} could not be read ({type(exc).__name__}): create it "
                "in the UI (Admin → Connections, type 'iSendPro SMS') or set "
                f"AIRFLOW_CONN_{self.isendpro_conn_id.upper()}"
            ) from None

    @cached_property
    def _conn_and_config(self) -> tuple[Connection, ClientConfig]:
        conn = self._connection()
        return conn, config_from_connection(conn, dict(conn.extra_dejson), self._retry)

    @property
    def config(self) -> ClientConfig:
        """The validated client configuration (reads the connection on first use)."""
        return self._conn_and_config[1]

    @property
    def default_sender(self) -> str | None:
        """The connection's default sender id (``sender`` extra), if any."""
        sender = self._conn_and_config[0].extra_dejson.get("sender")
        return str(sender).strip() or None if sender else None

    @cached_property
    def client(self) -> IsendproClient:
        """The sync client, created once per hook (its HTTP connection is reused)."""
        from airflow_provider_isendpro.client import IsendproClient

        return IsendproClient(self.config)

    def get_conn(self) -> IsendproClient:
        """Airflow's conventional accessor: the sync :class:`IsendproClient`."""
        return self.client

    async def get_async_client(self) -> AsyncIsendproClient:
        """A new async client for the caller's event loop (close it with ``aclose`` / ``async with``).

        Reads the connection without blocking the loop, as triggers and async notifiers must.
        """
        from airflow.providers.common.compat.connection import (
            get_async_connection,
            get_async_extra_dejson,
        )

        from airflow_provider_isendpro.client import AsyncIsendproClient

        try:
            conn = await get_async_connection(self.isendpro_conn_id, self)
        except Exception as exc:
            raise IsendproConfigError(
                f"connection {self.isendpro_conn_id!r} could not be read ({type(exc).__name__}): "
                f"create it or set AIRFLOW_CONN_{self.isendpro_conn_id.upper()}"
            ) from None
        extra = await get_async_extra_dejson(conn)
        return AsyncIsendproClient(config_from_connection(conn, dict(extra), self._retry))

    def close(self) -> None:
        """Release the pooled HTTP connection, if a client was created."""
        if "client" in self.__dict__:
            self.client.close()

    def test_connection(self) -> tuple[bool, str]:
        """Read the account credit (free). Never raises: returns (ok, message) for the UI's Test button."""
        import dataclasses

        from airflow_provider_isendpro.client import IsendproClient
        from airflow_provider_isendpro.client.responses import ALLOW_LIST_HINT, NOT_THE_API_HINT
        from airflow_provider_isendpro.client.retry import NO_RETRY
        from airflow_provider_isendpro.errors import IsendproAuthError, IsendproConnectError

        try:
            # One attempt: the person pressing Test wants an answer within one read timeout, not retries.
            with IsendproClient(dataclasses.replace(self.config, retry=NO_RETRY)) as client:
                credit = client.get_credit()
        except IsendproAuthError as exc:
            return False, exc.message
        except IsendproError as exc:
            # A connection never opened, a bad setting or an answer from something else than iSendPro
            # each say what to check; the allow-list is a suspect only when iSendPro itself is reached.
            if (
                isinstance(exc, (IsendproConfigError, IsendproConnectError))
                or NOT_THE_API_HINT in exc.message
            ):
                hint = ""
            else:
                hint = f"; {ALLOW_LIST_HINT}"
            return False, f"{exc.message}{hint}"
        except Exception as exc:
            return False, f"unexpected {type(exc).__name__} while reading the credit"
        estimate = f" (about {credit.sms_estimate} SMS to France)" if credit.sms_estimate is not None else ""
        return True, f"Connected to iSendPro: credit {credit.euros:.2f} EUR{estimate}"
