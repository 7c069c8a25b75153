"""The delivery-receipt receiver: a small FastAPI app the plugin mounts on the Airflow API server.

``GET <api-server>/isendpro/dlr/<secret>?tel=...&statut=...&tracker=...`` (and ``POST`` with a form body
when ``[isendpro] dlr_method`` allows it) stores one receipt (:mod:`.store`) and answers 200.

What a caller gets, in the order it is checked:

- source address outside ``[isendpro] dlr_allowed_networks`` (when set): 403;
- no ``dlr_secret`` configured, or a wrong or missing secret: 404 ``Not Found``, the very answer of an
  unknown path (nothing tells a prober that it found the receiver);
- a method ``dlr_method`` does not allow: 405 with ``Allow``;
- a query string over :data:`MAX_QUERY_BYTES`: 414; a body over :data:`MAX_BODY_BYTES`: 413; a POST
  body that is not a form: 415;
- too many parameters, a repeated one, a missing or malformed ``tel``/``statut``/``tracker``: 400 with a
  short plain message naming the parameter (never a value, never the secret); other parameters are
  ignored; an unknown ``statut`` is stored raw (status ``unknown``);
- stored: 200 ``stored``; the same receipt again: 200 ``already stored`` (nothing changes);
- the store unreachable: 503 (iSendPro may try again).

The secret never reaches a log line. Airflow's access log writes each request's path: uvicorn's
(Airflow 3.1) when the response starts, Airflow's ``HttpAccessLogMiddleware`` (3.2+) when it ends, both
from the request's ASGI ``scope``, the dict every layer shares. :class:`_SecretOutOfPath` takes the
secret out of that dict before anything else runs, so those lines read ``/isendpro/dlr/REDACTED``; the
phone number in the query string is masked the same way (personal data has no place in access logs).

No network call but the store's write: the answer comes as soon as the receipt is stored.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_isendpro.receipts import config
from airflow_provider_isendpro.receipts.model import InvalidReceipt, ReceiptFormat, parse_receipt
from airflow_provider_isendpro.receipts.store import ReceiptStore

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("airflow_provider_isendpro.receipts")

#: Bounds on what a caller may send (a real callback is about 80 bytes).
MAX_QUERY_BYTES = 2048
MAX_BODY_BYTES = 2048
MAX_PARAMS = 16
#: Longer than any secret we accept: compared no further (and still answered 404).
MAX_SECRET_CHARS = 256
#: What a configured secret must look like: URL-safe as typed into iSendPro's customer area, and long
#: enough not to be guessed (``python -c "import secrets; print(secrets.token_urlsafe(32))"``).
SECRET_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,256}")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: Where :class:`_SecretOutOfPath` leaves what it took out of the scope.
SCOPE_KEY = "isendpro.dlr"
MASK = "REDACTED"

NOT_FOUND = "Not Found"


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> PlainTextResponse:
    return PlainTextResponse(text + "\n" if text else "", status_code=status, headers=headers)


class _SecretOutOfPath:
    """Pure ASGI: move the secret from ``scope["path"]`` (and ``raw_path``) into ``scope[SCOPE_KEY]``,
    and mask the phone number in ``scope["query_string"]``, before routing, so that no access log (which
    reads the same scope) can write them. The receiver reads the originals from ``scope[SCOPE_KEY]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "")
            path: str = scope["path"]
            route = path[len(root) :] if root and path.startswith(root) else path
            if route.startswith("/dlr/") and len(route) > len("/dlr/"):
                query: bytes = scope.get("query_string", b"")
                scope[SCOPE_KEY] = {"secret": route[len("/dlr/") :], "query": query}
                masked = path[: len(path) - len(route)] + "/dlr/" + MASK
                scope["path"] = masked
                scope["raw_path"] = quote(masked).encode()
                scope["query_string"] = _masked_query(query)
        await self.app(scope, receive, send)


def _masked_query(query: bytes) -> bytes:
    """The query string with the number parameter's value replaced by ``REDACTED`` (unparseable: dropped)."""
    if not query:
        return query
    try:
        number_param = ReceiptFormat.from_config().number_param
    except ValueError:
        number_param = ReceiptFormat.number_param
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_PARAMS)
    except ValueError:
        return b"(not logged)"
    return urlencode([(k, MASK if k == number_param else v) for k, v in pairs]).encode()


class _Once:
    """Messages said once per process (a misconfiguration is logged once, not once per callback)."""

    def __init__(self) -> None:
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, key: str) -> bool:
        with self._lock:
            if key in self._said:
                return False
            self._said.add(key)
            return True

    def reset(self) -> None:
        with self._lock:
            self._said.clear()


once = _Once()


def now() -> dt.datetime:
    """When a receipt is stored (a function so that tests can fix it)."""
    return dt.datetime.now(dt.timezone.utc)


_stores: dict[tuple[str, str | None], ReceiptStore] = {}
_stores_lock = threading.Lock()


def receipt_store() -> ReceiptStore:
    """The configured store, one per ledger location per process (it keeps its shards open)."""
    configured = ReceiptStore.configured()
    key = (configured.root, configured.conn_id)
    with _stores_lock:
        return _stores.setdefault(key, configured)


def _check_shared_storage() -> None:
    """Receipts on the API server's own disk are invisible to workers and triggerers on other machines:
    said once at ERROR (the receiver still stores them: a single-machine set-up is fine)."""
    if not once("storage"):
        return
    from airflow_provider_isendpro.receipts.store import unshared_storage

    try:
        unshared = unshared_storage()
    except Exception as exc:  # advisory only: a bad setting here must not cost the receipt
        log.warning("iSendPro receipts: could not check where receipts are stored (%s)", exc)
        return
    if unshared:
        location, remote = unshared
        log.error(
            "iSendPro receipts: stored on this API server's local disk (%s, from %s) while [core] executor "
            "= %s runs tasks on other machines, which will not see them. Set [isendpro] ledger_path to "
            "shared storage (s3://...) or declare a shared volume with [isendpro] ledger_is_shared = True",
            location.root, location.origin, ", ".join(remote),
        )  # fmt: skip


def _configured_secret() -> str | None:
    """The usable secret, or None (said once at ERROR, naming the option, never the value)."""
    secret = config.dlr_secret()
    if not secret:
        if once("no-secret"):
            log.error(
                "iSendPro receipts: [isendpro] dlr_secret is not set, so the receiver at "
                "/isendpro/dlr/<secret> refuses every callback (404). Set it to a random string of 16 "
                "or more URL-safe characters and use it in the DLR URL of iSendPro's customer area"
            )
        return None
    if SECRET_PATTERN.fullmatch(secret) is None:
        if once("bad-secret"):
            log.error(
                "iSendPro receipts: [isendpro] dlr_secret is unusable (it must be 16 to 256 characters "
                'from A-Z, a-z, 0-9 and . _ ~ -, e.g. from python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"), so the receiver refuses every callback (404)'
            )
        return None
    return secret


def _source_allowed(request: Request) -> bool:
    """The caller's address against ``[isendpro] dlr_allowed_networks`` (empty: everyone).

    The address is the TCP peer's, as the server put it in the scope: behind a reverse proxy it is the
    proxy's, unless the API server runs with ``--proxy-headers`` and trusts that proxy
    (``FORWARDED_ALLOW_IPS``); ``X-Forwarded-For`` is never read here.
    """
    networks = config.allowed_networks()
    if not networks:
        return True
    client = request.scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in networks)


def _params(pairs: list[tuple[str, str]], fmt: ReceiptFormat) -> dict[str, str]:
    """The receipt's own parameters, each given at most once (others ignored)."""
    wanted = set(fmt.params)
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in wanted:
            if name in params:
                raise InvalidReceipt(name, "given more than once")
            params[name] = value
    return params


def _parse_pairs(text: bytes, what: str) -> list[tuple[str, str]]:
    try:
        decoded = text.decode("utf-8")
        return parse_qsl(decoded, keep_blank_values=True, max_num_fields=MAX_PARAMS, errors="strict")
    except UnicodeDecodeError:
        raise InvalidReceipt(what, "is not UTF-8") from None
    except ValueError:
        raise InvalidReceipt(what, f"has more than {MAX_PARAMS} parameters") from None


async def _body(request: Request) -> bytes | Response:
    """The POST body, read up to :data:`MAX_BODY_BYTES` (more: 413 without reading the rest)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return _plain(413, f"body too large (at most {MAX_BODY_BYTES} bytes)")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY_BYTES:
            return _plain(413, f"body too large (at most {MAX_BODY_BYTES} bytes)")
    if chunks and content_type != "application/x-www-form-urlencoded":
        return _plain(415, "send the parameters in the query string or as application/x-www-form-urlencoded")
    return bytes(chunks)


async def receive_receipt(request: Request) -> Response:
    """One callback, checked in the order of the module's docstring."""
    taken: dict[str, Any] = request.scope.get(SCOPE_KEY) or {}
    candidate: str = taken.get("secret", "")
    try:
        allowed = _source_allowed(request)
    except ValueError as exc:  # IsendproConfigError: a bad dlr_allowed_networks
        if once("bad-networks"):
            log.error("iSendPro receipts: refusing every callback (503): %s", exc)
        return _plain(503, "receiver misconfigured: see the API server's log")
    if not allowed:
        log.warning("iSendPro receipts: refused a callback from %s (not in [isendpro] dlr_allowed_networks)",
                    (request.scope.get("client") or ("unknown",))[0])  # fmt: skip
        return _plain(403, "Forbidden")
    secret = _configured_secret()
    if (
        secret is None
        or not candidate
        or len(candidate) > MAX_SECRET_CHARS
        or not hmac.compare_digest(candidate.encode("utf-8", "replace"), secret.encode())
    ):
        if secret is not None:  # (none configured: said once at ERROR already)
            log.info(
                "iSendPro receipts: refused a callback from %s: wrong or missing secret (404); check the "
                "DLR URL in iSendPro's customer area", (request.scope.get("client") or ("unknown",))[0],
            )  # fmt: skip
        return _plain(404, NOT_FOUND)
    try:
        fmt = ReceiptFormat.from_config()
    except ValueError as exc:
        if once("bad-format"):
            log.error("iSendPro receipts: refusing every callback (503): %s", exc)
        return _plain(503, "receiver misconfigured: see the API server's log")
    method = request.method.upper()
    if method not in ("GET", "POST") or not fmt.allows(method):
        allow = "GET, POST" if fmt.method == "ANY" else fmt.method
        return _plain(405, "Method Not Allowed", {"Allow": allow})
    query: bytes = taken.get("query", b"")
    if len(query) > MAX_QUERY_BYTES:
        return _plain(414, f"query string too long (at most {MAX_QUERY_BYTES} bytes)")
    try:
        pairs = _parse_pairs(query, "query string")
        if method == "POST":
            body = await _body(request)
            if isinstance(body, Response):
                return body
            pairs += _parse_pairs(body, "body")
            if len(pairs) > MAX_PARAMS:
                raise InvalidReceipt("request", f"has more than {MAX_PARAMS} parameters")
        receipt = parse_receipt(_params(pairs, fmt), fmt, now())
    except InvalidReceipt as exc:
        log.info("iSendPro receipts: refused a callback (400): %s", exc)
        return _plain(400, f"invalid receipt: {exc}")
    _check_shared_storage()
    try:
        store = receipt_store()
        stored = await run_in_threadpool(store.record, receipt)
    except Exception as exc:
        log.error(
            "iSendPro receipts: could not store the receipt of tracker %s in %s (%s): answered 503; check "
            "[isendpro] ledger_path and ledger_conn_id", receipt.tracker, _where(), type(exc).__name__,
        )  # fmt: skip
        return _plain(503, "receipt store unavailable, try again later")
    if stored:
        log.info(
            "iSendPro receipts: stored tracker %s: %s (statut %s)",
            receipt.tracker, receipt.status, receipt.raw_status,
        )  # fmt: skip
        return _plain(200, "stored")
    return _plain(200, "already stored")


def _where() -> str:
    try:
        return ReceiptStore.configured().describe()
    except Exception:
        return "the configured ledger"


async def _not_found(request: Request, exc: Exception) -> Response:
    """Every HTTP error of the app as plain text: an unknown path reads exactly like a wrong secret."""
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    if status == 404:
        return _plain(404, NOT_FOUND)
    return _plain(status, "Method Not Allowed" if status == 405 else "Error")


def create_app() -> FastAPI:
    """The receiver, with no docs or OpenAPI routes and no slash redirects: nothing but
    ``/dlr/<secret>`` answers otherwise than an unknown path does."""
    app = FastAPI(
        title="iSendPro delivery receipts",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,  # else /isendpro/dlr answers 307, telling a prober the receiver is there
    )
    app.add_api_route("/dlr/{secret:path}", receive_receipt, methods=ALL_METHODS, include_in_schema=False)
    app.add_exception_handler(StarletteHTTPException, _not_found)
    app.add_middleware(_SecretOutOfPath)
    return app


app = create_app()
