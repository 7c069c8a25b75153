"""The iSendPro operations as the emulator answers them: validation, state changes, envelopes.

Transport-free: the HTTP layer (``emulator.py``) hands over parsed parameters and writes the ``Reply``
back, so every rule here can be read next to API-NOTES sections 5-8.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from . import dlr, rules, spec
from .config import (
    MAGIC_BLACKLISTED,
    MAGIC_HANG,
    MAGIC_HTTP_400,
    MAGIC_HTTP_429,
    MAGIC_HTTP_500,
    MAGIC_UNASSIGNED,
    EmulatorConfig,
    Envelope,
)
from .state import Account, EmulatorState, Repertoire, SentSms, format_euros, to_micros

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
ZIP_TYPE = "application/zip"


@dataclass(slots=True)
class Reply:
    """What to write back. ``hang`` means: answer nothing, wait that long (bounded), then close."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    hang: float | None = None


class ApiError(Exception):
    """A request-level error: answered with the ``Erreur`` body and ``request_error_status``."""

    def __init__(self, key: str, detail: str | None = None, *, status: int | None = None) -> None:
        super().__init__(detail or key)
        self.key = key
        self.detail = detail
        self.status = status


@dataclass(slots=True)
class Context:
    """One request's view of the emulator: config snapshot, state, caller account, helpers."""

    config: EmulatorConfig
    state: EmulatorState
    api_keys: tuple[str, ...]
    request_index: int
    now: Callable[[], datetime]
    wait: Callable[[float], None]
    client_ip: str = "127.0.0.1"
    account: Account | None = None
    on_receipts: Callable[[list[dlr.Receipt]], None] | None = None
    """Called (outside the state lock) with the receipts of the SMS a send accepted (not sandbox)."""

    # --- rendering ----------------------------------------------------------------------------------
    def code(self, key: str, *, numeric: bool = False) -> int | str:
        """The code of ``key``, typed as the config says; ``numeric`` marks where the spec uses a number."""
        code, _ = self.config.code(key)
        style = self.config.code_style
        if style == "int" or (style == "spec" and numeric):
            return code
        return str(code)

    def message(self, key: str) -> str:
        return self.config.code(key)[1]


def json_reply(payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status=status, body=body, headers=headers or [])


def envelope(entries: list[dict[str, Any]], shape: Envelope) -> dict[str, Any]:
    """Wrap entries the way iSendPro does (API-NOTES 5.1); only a single entry changes shape."""
    if len(entries) == 1 and shape == "object":
        return {"etat": {"etat": entries[0]}}
    if len(entries) == 1 and shape == "flat":
        return {"etat": entries[0]}
    return {"etat": {"etat": entries}}


def error_reply(ctx_config: EmulatorConfig, error: ApiError) -> Reply:
    """The ``Erreur`` body: ``{"etat":{"etat":[{"code":"<string>","message":"..."}]}}``."""
    code, message = ctx_config.code(error.key)
    if error.detail:
        message = f"{message}: {error.detail}"
    rendered: int | str = code if ctx_config.code_style == "int" else str(code)
    status = error.status if error.status is not None else ctx_config.request_error_status
    return json_reply(envelope([{"code": rendered, "message": message}], ctx_config.error_envelope), status)


def html_reply(status: int, title: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    page = (
        f"<!DOCTYPE html><html><head><title>{status} {title}</title></head>"
        f"<body><h1>{title}</h1></body></html>"
    )
    return Reply(status=status, body=page.encode("utf-8"), content_type=HTML_TYPE, headers=headers or [])


def retry_after_header(seconds: float) -> list[tuple[str, str]]:
    whole = int(seconds)
    return [("Retry-After", str(whole if whole == seconds else whole + 1))]


def rate_limited(config: EmulatorConfig, retry_after: float) -> Reply:
    reply = error_reply(config, ApiError("rate_limited", status=429))
    reply.headers.extend(retry_after_header(retry_after))
    return reply


# --- parameter helpers --------------------------------------------------------------------------------


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true")


def _opt_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    return str(value)


def _validate(
    ctx: Context, op: spec.Operation, params: Mapping[str, Any], *, from_form: bool, **options: Any
) -> dict[str, Any]:
    try:
        return spec.validate(op, params, from_form=from_form, strict_types=ctx.config.strict_types, **options)
    except spec.SpecViolation as exc:
        raise ApiError(exc.kind, exc.message) from None


def _tel_echo(ctx: Context, raw: str, number: str | None) -> str:
    if number is None:
        return raw
    return rules.national(number) if ctx.config.echo_national_tel else number


def _request_magic(ctx: Context, numbers: list[str | None]) -> Reply | None:
    """Request-level magic numbers and per-number latency, checked before anything is recorded."""
    nationals = {rules.national(n) for n in numbers if n is not None}
    delay = max((ctx.config.number_latency.get(n, 0.0) for n in nationals), default=0.0)
    if delay > 0:
        ctx.wait(delay)
    if MAGIC_HANG in nationals:
        return Reply(status=0, hang=ctx.config.hang_timeout)
    if MAGIC_HTTP_500 in nationals:
        return html_reply(500, "Internal Server Error")
    if MAGIC_HTTP_429 in nationals:
        return rate_limited(ctx.config, ctx.config.retry_after)
    if MAGIC_HTTP_400 in nationals:
        raise ApiError("rejected", f"number {MAGIC_HTTP_400} is refused (emulator magic number)", status=400)
    return None


def _check_sender(ctx: Context, params: Mapping[str, Any]) -> str | None:
    raw = _opt_str(params, "emetteur")
    if raw is None:
        return None
    sender = rules.check_sender(raw, accept_lowercase=ctx.config.accept_lowercase_sender)
    if sender is None:
        raise ApiError(
            "invalid_sender",
            f"'emetteur' = {raw!r} must be 4 to 11 characters from 0-9, A-Z and space, not only digits",
        )
    return sender


def _check_date(ctx: Context, params: Mapping[str, Any], name: str) -> str | None:
    raw = _opt_str(params, name)
    if raw is None:
        return None
    if rules.parse_date(raw) is None:
        raise ApiError("invalid_date", f"'{name}' = {raw!r} must be 'YYYY-MM-DD hh:mm'")
    return raw


def _count(ctx: Context, text: str, *, with_stop: bool, field_name: str) -> tuple[str, int, int]:
    try:
        return rules.count(text, with_stop=with_stop, suffix=rules.stop_suffix(ctx.config.stop_suffix_length))
    except ValueError as exc:
        raise ApiError("invalid_value", f"'{field_name}' is not SMS text ({exc})") from None


def _non_gsm(text: str) -> str:
    return "".join(rules.non_gsm_characters(text))


def _in_quiet_hours(ctx: Context, date_envoi: str | None) -> bool:
    when = rules.parse_date(date_envoi) if date_envoi else None
    hour = (when or ctx.now()).hour
    start, end = ctx.config.quiet_hours
    return hour >= start or hour < end if start > end else start <= hour < end


def _charge(ctx: Context, account: Account, micros: int) -> None:
    if micros > account.credit_micros:
        raise ApiError(
            "insufficient_credit",
            f"this request costs {format_euros(micros)} EUR, "
            f"the account has {format_euros(account.credit_micros)} EUR",
        )
    account.credit_micros -= micros


# --- sends ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    """A send request after validation: recipients, texts and the flags shared by all of them."""

    raw_numbers: list[str]
    texts: list[str]
    trackers: list[str | None]
    sender: str | None = None
    date_envoi: str | None = None
    gmt_zone: str | None = None
    smslong: str | None = None
    nostop: bool = False
    ucs2: bool = False
    sandbox: bool = False
    counted: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def text(self, i: int) -> str:
        return self.texts[0] if len(self.texts) == 1 else self.texts[i]


def _recipients(ctx: Context, params: dict[str, Any], *, multi: bool) -> _Batch:
    """Numbers, texts and trackers; ``/smsmulti`` arrays must line up (API-NOTES 6.2)."""
    if not multi:
        return _Batch([params["num"]], [params["sms"]], [_opt_str(params, "tracker")])
    raw_numbers = list(params.get("num") or [])
    rep_id = _opt_str(params, "repertoireId")
    if rep_id is not None:
        with ctx.state.lock:
            rep = ctx.state.repertoires.get(rep_id)
            if rep is None:
                raise ApiError("unknown_repertoire", f"'repertoireId' = {rep_id!r} does not exist")
            raw_numbers += [m for m in rep.members if m not in raw_numbers]
    n = len(raw_numbers)
    if not n:
        raise ApiError("missing_field", "'num' (POST /smsmulti): no recipient")
    texts: list[str] = list(params["sms"])
    if len(texts) not in (1, n):
        raise ApiError("array_mismatch", f"'sms' has {len(texts)} texts for {n} numbers (expected 1 or {n})")
    trackers: list[str | None] = [None] * n
    if params.get("tracker"):
        trackers = list(params["tracker"])
        if len(trackers) != n:
            raise ApiError("array_mismatch", f"'tracker' has {len(trackers)} values for {n} numbers")
    if n > ctx.config.max_recipients:
        raise ApiError("too_many_recipients", f"{n} numbers, at most {ctx.config.max_recipients} per call")
    return _Batch(raw_numbers, texts, trackers)


def _options(ctx: Context, params: dict[str, Any], batch: _Batch) -> None:
    """Sender, date, tracker and flag rules (API-NOTES 6.1, 8.3, 8.4)."""
    config = ctx.config
    batch.sender = _check_sender(ctx, params)
    batch.date_envoi = _check_date(ctx, params, "date_envoi")
    batch.gmt_zone = _opt_str(params, "gmt_zone")
    for tracker in batch.trackers:
        if tracker is not None and not rules.check_tracker(tracker, config.tracker_pattern):
            raise ApiError(
                "invalid_tracker", f"'tracker' = {tracker!r} must be alphanumeric, under 50 characters"
            )
    batch.smslong = _opt_str(params, "smslong")
    if batch.smslong is not None and (not batch.smslong.isdigit() or int(batch.smslong) < 1):
        raise ApiError("invalid_value", f"'smslong' = {batch.smslong!r} must be a number of parts or '999'")
    batch.nostop = _flag(params.get("nostop"))
    batch.ucs2 = _flag(params.get("ucs2"))
    batch.sandbox = _flag(params.get("sandbox"))
    if config.enforce_quiet_hours and _in_quiet_hours(ctx, batch.date_envoi):
        raise ApiError("quiet_hours")


def _count_texts(ctx: Context, batch: _Batch) -> None:
    """Segments per distinct text (one count for a million identical SMS), with the caps of 8.1."""
    config = ctx.config
    with_stop = batch.sender is not None and not batch.nostop
    smslong = batch.smslong
    for index, text in enumerate(batch.texts):
        if text in batch.counted:
            continue
        where = "sms" if len(batch.texts) == 1 else f"sms[{index}]"
        counted = _count(ctx, text, with_stop=with_stop, field_name=where)
        segments = counted[2]
        stop_note = " (STOP mention included)" if with_stop else ""
        if segments > config.max_segments:
            raise ApiError(
                "message_too_long",
                f"'{where}' needs {segments} SMS parts{stop_note}, at most {config.max_segments}",
            )
        if smslong is not None and smslong != "999" and segments > int(smslong):
            raise ApiError(
                "smslong_exceeded", f"'{where}' needs {segments} SMS parts{stop_note}, 'smslong' is {smslong}"
            )
        if smslong is None and config.require_smslong_for_long and segments > 1:
            raise ApiError("smslong_exceeded", f"'{where}' needs {segments} SMS parts and 'smslong' is unset")
        batch.counted[text] = counted


def _check_encoding(ctx: Context, batch: _Batch, numbers: list[str | None]) -> None:
    """Metropolitan France gets GSM-7 only (API-NOTES 8.1, §11 #18): non-GSM text is refused there, and so
    is the ``ucs2`` flag, which iSendPro allows "only outside metropolitan France"."""
    if not ctx.config.reject_non_gsm_to_france:
        return
    if batch.ucs2:
        for i, number in enumerate(numbers):
            if number is not None and rules.is_metropolitan_french(number):
                raise ApiError(
                    "non_gsm_to_france",
                    f"'ucs2' is set for the French number {batch.raw_numbers[i]!r}: UCS-2 is only for "
                    "numbers outside metropolitan France",
                )
        return
    for i, number in enumerate(numbers):
        text = batch.text(i)
        if number is not None and batch.counted[text][0] != "GSM-7" and rules.is_metropolitan_french(number):
            raise ApiError(
                "non_gsm_to_france",
                f"'sms' contains non-GSM characters {_non_gsm(text)!r} for the French number "
                f"{batch.raw_numbers[i]!r} (transliterate, or use 'ucs2' for numbers abroad)",
            )


def _outcome(state: EmulatorState, number: str | None) -> str:
    nat = rules.national(number) if number is not None else None
    if nat is None or nat == MAGIC_UNASSIGNED:
        return "unassigned"
    if nat == MAGIC_BLACKLISTED or nat in state.blacklist:
        return "blacklisted"
    return "sent"


def send(ctx: Context, params: dict[str, Any], *, multi: bool, path: str) -> Reply:
    """``/sms`` and ``/smsmulti``: per-recipient results, credit per billed segment, the send log."""
    config, state, account = ctx.config, ctx.state, ctx.account
    assert account is not None
    batch = _recipients(ctx, params, multi=multi)
    _options(ctx, params, batch)
    _count_texts(ctx, batch)
    numbers = [rules.normalise_number(n, accept_plus=config.accept_plus_prefix) for n in batch.raw_numbers]
    magic = _request_magic(ctx, numbers)
    if magic is not None:
        return magic
    _check_encoding(ctx, batch, numbers)

    accepted_at = ctx.now()
    now = accepted_at.timestamp()
    price = to_micros(config.price_per_segment)
    entries: list[dict[str, Any]] = []
    receipts: list[dlr.Receipt] = []
    with state.lock:
        outcomes = [_outcome(state, number) for number in numbers]
        if not batch.sandbox:
            billed = [batch.counted[batch.text(i)][2] for i, o in enumerate(outcomes) if o == "sent"]
            _charge(ctx, account, sum(billed) * price)
        for i, (raw, number, outcome) in enumerate(zip(batch.raw_numbers, numbers, outcomes, strict=True)):
            entry: dict[str, Any] = {
                "code": ctx.code(outcome, numeric=True),
                "tel": _tel_echo(ctx, raw, number),
                "message": ctx.message(outcome),
            }
            entries.append(entry)
            if outcome != "sent" or number is None:
                state.rejected_recipients += 1
                continue
            text = batch.text(i)
            encoding, _units, segments = batch.counted[text]
            entry["smslong"] = str(segments)
            if batch.sandbox:
                state.sandbox_sent += 1
            else:
                state.sms_sent += 1
                state.segments_billed += segments
            state.next_id += 1
            message_id = f"{state.next_id:014x}"
            if not batch.sandbox and (config.record_sent or config.dlr_url is not None):
                receipt = dlr.plan_receipt(
                    config,
                    message_id=message_id,
                    tel=rules.national(number),
                    tracker=batch.trackers[i],
                    accepted_at=accepted_at,
                    date_envoi=batch.date_envoi,
                    gmt_zone=batch.gmt_zone,
                )
                receipts.append(receipt)
                if config.record_sent:
                    state.receipts[message_id] = receipt
            if config.record_sent:
                state.sent.append(
                    SentSms(
                        tel=rules.national(number),
                        text=text,
                        sender=batch.sender,
                        tracker=batch.trackers[i],
                        date_envoi=batch.date_envoi,
                        gmt_zone=batch.gmt_zone,
                        segments=segments,
                        encoding=encoding,
                        ucs2=batch.ucs2,
                        nostop=batch.nostop,
                        sandbox=batch.sandbox,
                        timestamp=now,
                        request_index=ctx.request_index,
                        batch_index=i,
                        message_id=message_id,
                        account=account.label,
                        path=path,
                        cost=0.0 if batch.sandbox else segments * config.price_per_segment,
                    )
                )
    if receipts and ctx.on_receipts is not None:
        ctx.on_receipts(receipts)
    return json_reply(envelope(entries, config.envelope))


# --- read operations ----------------------------------------------------------------------------------


def credit(ctx: Context, params: dict[str, Any]) -> Reply:
    """``/credit``: always flat (shape C), euros as a string like ``"10.0"``; ``credit=2`` adds quantite."""
    account = ctx.account
    assert account is not None
    with ctx.state.lock:
        micros = account.credit_micros
    value: Any = float(format_euros(micros)) if ctx.config.credit_as_number else format_euros(micros)
    body: dict[str, Any] = {"credit": value}
    if params["credit"] == "2":
        price = to_micros(ctx.config.price_per_segment)
        body["quantite"] = str(micros // price) if price > 0 else "0"
    return json_reply({"etat": body})


def _operator(ctx: Context, number: str | None) -> str | None:
    if number is None:
        return None
    nat = rules.national(number)
    if nat == MAGIC_UNASSIGNED:
        return None
    table = ctx.config.hlr_operators
    for size in range(len(nat), 0, -1):
        operator = table.get(nat[:size])
        if operator is not None:
            return operator
    return None


def hlr(ctx: Context, params: dict[str, Any]) -> Reply:
    """``/hlr``: ``{tel, operateur}`` per number; unknown or invalid numbers get the marker (``"?"``)."""
    raw_numbers: list[str] = params["num"]
    numbers = [rules.normalise_number(n, accept_plus=ctx.config.accept_plus_prefix) for n in raw_numbers]
    magic = _request_magic(ctx, numbers)
    if magic is not None:
        return magic
    account = ctx.account
    assert account is not None
    with ctx.state.lock:
        valid = sum(1 for n in numbers if n is not None)
        _charge(ctx, account, valid * to_micros(ctx.config.hlr_price))
        ctx.state.hlr_lookups += len(numbers)
    entries = [
        {"tel": _tel_echo(ctx, raw, n), "operateur": _operator(ctx, n) or ctx.config.hlr_unknown_marker}
        for raw, n in zip(raw_numbers, numbers, strict=True)
    ]
    return json_reply(envelope(entries, ctx.config.envelope))


def qualification(ctx: Context, params: dict[str, Any]) -> Reply:
    """Legacy ``/qualification`` (API-NOTES 6.11): like ``/hlr`` plus a blacklist marker."""
    raw = params.get("num")
    if not _flag(params.get("getOperateur")):
        raise ApiError("missing_field", "'getOperateur' must be '1' (POST /qualification)")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(n, str) for n in raw):
        raise ApiError("missing_field", "'num' (POST /qualification) must be an array of numbers")
    entries = []
    for item in raw:
        number = rules.normalise_number(item, accept_plus=ctx.config.accept_plus_prefix)
        nat = rules.national(number) if number else None
        if nat is not None and (nat in ctx.state.blacklist or nat == MAGIC_BLACKLISTED):
            operator = ctx.config.qualification_blacklist_marker
        else:
            operator = _operator(ctx, number) or ctx.config.hlr_unknown_marker
        entries.append({"tel": _tel_echo(ctx, item, number), "operateur": operator})
    return json_reply(envelope(entries, ctx.config.envelope))


def comptage(ctx: Context, params: dict[str, Any]) -> Reply:
    """``/comptage``: ``{tel, nb_caractere, nb_sms}`` as strings, the STOP mention counted when it applies.

    A counter, not a send: it reports more than 6 parts instead of refusing them.
    """
    sender = _check_sender(ctx, params)
    _check_date(ctx, params, "date_envoi")
    with_stop = sender is not None and not _flag(params.get("nostop"))
    number = rules.normalise_number(params["num"], accept_plus=ctx.config.accept_plus_prefix)
    magic = _request_magic(ctx, [number])
    if magic is not None:
        return magic
    _encoding, units, segments = _count(ctx, params["sms"], with_stop=with_stop, field_name="sms")
    entry = {
        "tel": _tel_echo(ctx, params["num"], number),
        "nb_caractere": str(units),
        "nb_sms": str(segments),
    }
    return json_reply(envelope([entry], ctx.config.envelope))


def _zip(name: str, header: list[str], rows: list[list[str]], separator: str) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=separator, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.getvalue().encode("utf-8"))
    return buffer.getvalue()


def _zip_reply(data: bytes, filename: str) -> Reply:
    return Reply(
        status=200,
        body=data,
        content_type=ZIP_TYPE,
        headers=[("Content-Disposition", f'attachment; filename="{filename}"')],
    )


def _sent_date(sms: SentSms, tz: tzinfo | None) -> str:
    """The report's date: the scheduled time, else when the emulator accepted it (emulator wall time)."""
    if sms.date_envoi:
        return sms.date_envoi + ":00"
    return datetime.fromtimestamp(sms.timestamp, tz).strftime("%Y-%m-%d %H:%M:%S")


CAMPAIGN_COLUMNS = ["date", "tel", "tracker", "statut", "message_id", "nb_sms", "emetteur"]


def campagne(ctx: Context, params: dict[str, Any]) -> Reply:
    """``/campagne``: a zip with one ``;``-separated UTF-8 CSV, one row per (non-sandbox) SMS in range.

    A row's ``statut`` is its delivery receipt's once the receipt is due (``dlr.report_statut``): the
    report and the DLR callbacks always agree."""
    start = _check_date(ctx, params, "date_deb")
    end = _check_date(ctx, params, "date_fin")
    assert start is not None and end is not None
    if start > end:
        raise ApiError("invalid_date", f"'date_deb' = {start!r} is after 'date_fin' = {end!r}")
    account = ctx.account
    assert account is not None
    with ctx.state.lock:
        sent = [s for s in ctx.state.sent if not s.sandbox and s.account == account.label]
        receipts = {s.message_id: ctx.state.receipts.get(s.message_id) for s in sent}
    rows = []
    now = ctx.now()
    tz = now.tzinfo
    for sms in sent:
        date = _sent_date(sms, tz)
        if start <= date[:16] <= end:
            rows.append(
                [
                    date,
                    sms.tel,
                    sms.tracker or "",
                    dlr.report_statut(ctx.config, receipts[sms.message_id], now.timestamp()),
                    sms.message_id,
                    str(sms.segments),
                    sms.sender or "",
                ]
            )
    name = ctx.config.campaign_csv_name
    data = _zip(name, CAMPAIGN_COLUMNS, rows, ctx.config.csv_separator)
    return _zip_reply(data, name.rsplit(".", 1)[0] + ".zip")


# --- répertoires, liste noire, shortlink, sub-accounts ----------------------------------------------


def repertoire_create(ctx: Context, params: dict[str, Any]) -> Reply:
    with ctx.state.lock:
        rep_id = str(1000 + len(ctx.state.repertoires) + 1)
        ctx.state.repertoires[rep_id] = Repertoire(repertoire_id=rep_id, name=params["repertoireNom"])
    entry = {
        "code": ctx.code("repertoire_created"),
        "message": ctx.message("repertoire_created"),
        "repertoireId": rep_id,
    }
    return json_reply(envelope([entry], ctx.config.envelope))


def repertoire_edit(ctx: Context, params: dict[str, Any]) -> Reply:
    rep_id = params["repertoireId"]
    raw_numbers: list[str] = params["num"]
    champs = {k: v for k, v in params.items() if k.startswith("champ") and isinstance(v, list)}
    for name, values in champs.items():
        if len(values) != len(raw_numbers):
            raise ApiError(
                "array_mismatch", f"'{name}' has {len(values)} values for {len(raw_numbers)} numbers"
            )
    entries = []
    with ctx.state.lock:
        rep = ctx.state.repertoires.get(rep_id)
        if rep is None:
            raise ApiError("unknown_repertoire", f"'repertoireId' = {rep_id!r} does not exist")
        for i, raw in enumerate(raw_numbers):
            number = rules.normalise_number(raw, accept_plus=ctx.config.accept_plus_prefix)
            key = "repertoire_updated"
            if number is None:
                key = "unassigned"
            elif params["repertoireEdit"] == "add":
                rep.members[rules.national(number)] = {name: values[i] for name, values in champs.items()}
            else:
                rep.members.pop(rules.national(number), None)
            entries.append(
                {
                    "code": ctx.code(key),
                    "message": ctx.message(key),
                    "repertoireId": rep_id,
                    "tel": _tel_echo(ctx, raw, number),
                }
            )
    return json_reply(envelope(entries, ctx.config.envelope))


def _listenoire_number(ctx: Context, params: dict[str, Any]) -> str:
    raw = params["num"]
    number = rules.normalise_number(raw, accept_plus=ctx.config.accept_plus_prefix)
    if number is None:
        raise ApiError("unassigned", f"'num' = {raw!r} is not a valid phone number")
    return rules.national(number)


def listenoire_set(ctx: Context, params: dict[str, Any]) -> Reply:
    nat = _listenoire_number(ctx, params)
    with ctx.state.lock:
        ctx.state.blacklist.setdefault(nat, ctx.now().strftime("%Y-%m-%d %H:%M:%S"))
    return json_reply(envelope([{"tel": nat, "listeNoire": "OK"}], ctx.config.envelope))


def listenoire_del(ctx: Context, params: dict[str, Any]) -> Reply:
    nat = _listenoire_number(ctx, params)
    with ctx.state.lock:
        ctx.state.blacklist.pop(nat, None)
    return json_reply(envelope([{"tel": nat, "listeNoire": "OK"}], ctx.config.envelope))


def listenoire_get(ctx: Context, params: dict[str, Any]) -> Reply:
    with ctx.state.lock:
        rows = [[tel, date] for tel, date in ctx.state.blacklist.items()]
    name = ctx.config.blacklist_csv_name
    data = _zip(name, ["tel", "date"], rows, ctx.config.csv_separator)
    return _zip_reply(data, name.rsplit(".", 1)[0] + ".zip")


_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def shortlink(ctx: Context, params: dict[str, Any]) -> Reply:
    url = params["shortlink"]
    if not url.startswith(("http://", "https://")) or len(url) < 11:
        raise ApiError("invalid_value", f"'shortlink' = {url!r} must be an http(s) URL")
    with ctx.state.lock:
        n = len(ctx.state.shortlinks) + 1
        token = ""
        while n or len(token) < 4:
            n, digit = divmod(n, len(_ALPHABET))
            token = _ALPHABET[digit] + token
        link = f"ww.sms.ht/{token}"
        ctx.state.shortlinks[link] = url
    entry = {
        "code": ctx.code("shortlink_created", numeric=True),
        "message": ctx.message("shortlink_created"),
        "shortlink": link,
    }
    return json_reply(envelope([entry], ctx.config.envelope))


def subaccount_add(ctx: Context, params: dict[str, Any], keyids: dict[str, Account]) -> Reply:
    if ctx.account is not ctx.state.main:
        raise ApiError("bad_credentials", "a sub-account key cannot manage sub-accounts")
    login = params["subAccountLogin"]
    with ctx.state.lock:
        if any(a.label == login for a in ctx.state.accounts.values()):
            raise ApiError("subaccount_exists", f"'subAccountLogin' = {login!r} is taken")
        sub_id = str(20150 + len(ctx.state.accounts))
        key = f"emulator-sub-{secrets.token_hex(5)}"
        account = Account(
            label=login,
            credit_micros=to_micros(ctx.config.subaccount_initial_credit),
            subaccount_id=sub_id,
            keyid=key,
            password=params["subAccountPassword"],
        )
        ctx.state.accounts[key] = account
        keyids[key] = account
    entry: dict[str, Any] = {
        "code": ctx.code("subaccount_created", numeric=True),
        "subAccountId": sub_id,
        "subAccountKeyId": key,
        "subAccountLogin": login,
    }
    entry["tel" if ctx.config.subaccount_message_under_tel else "message"] = ctx.message("subaccount_created")
    return json_reply(envelope([entry], ctx.config.envelope))


_SUBACCOUNT_FIELDS = {
    "setPrice": ("subAccountKeyId", "subAccountPrice", "subAccountCountryCode"),
    "addCredit": ("subAccountKeyId", "subAccountAddCredit"),
    "setRestriction": ("subAccountKeyId", "subAccountRestrictionStop", "subAccountRestrictionTime"),
}


def _amount(params: Mapping[str, Any], name: str) -> float:
    try:
        value = float(params[name])
    except ValueError:
        raise ApiError("invalid_value", f"'{name}' = {params[name]!r} must be a number") from None
    if not value >= 0:  # also rejects NaN
        raise ApiError("invalid_value", f"'{name}' = {params[name]!r} must be a positive number")
    return value


def subaccount_edit(ctx: Context, params: dict[str, Any]) -> Reply:
    if ctx.account is not ctx.state.main:
        raise ApiError("bad_credentials", "a sub-account key cannot manage sub-accounts")
    action = params["subAccountEdit"]
    for name in _SUBACCOUNT_FIELDS[action]:
        if not params.get(name):
            raise ApiError("missing_field", f"'{name}' (PUT /subaccount, subAccountEdit={action})")
    with ctx.state.lock:
        account = ctx.state.accounts.get(params["subAccountKeyId"])
        if account is None:
            raise ApiError("unknown_subaccount", "'subAccountKeyId' names no sub-account of this account")
        if action == "setPrice":
            _amount(params, "subAccountPrice")
            account.price = params["subAccountPrice"]
            account.country_code = params["subAccountCountryCode"]
        elif action == "addCredit":
            account.credit_micros += to_micros(_amount(params, "subAccountAddCredit"))
        else:
            account.restriction_stop = params["subAccountRestrictionStop"]
            account.restriction_time = params["subAccountRestrictionTime"]
    entry = {
        "code": ctx.code("subaccount_updated"),
        "message": ctx.message("subaccount_updated"),
        "subAccountId": account.subaccount_id,
        "subAccountKeyid": account.keyid,
    }
    return json_reply(envelope([entry], ctx.config.envelope))


def keyword(ctx: Context, params: dict[str, Any]) -> Reply:
    """Legacy ``/keyword`` (API-NOTES 6.11): reserve or release a keyword for inbound SMS."""
    action = params.get("keywordEdit")
    label = params.get("keywordLabel")
    if action not in ("add", "del"):
        raise ApiError("invalid_value", "'keywordEdit' must be 'add' or 'del'")
    if not isinstance(label, str) or not label:
        raise ApiError("missing_field", "'keywordLabel' (GET /keyword)")
    with ctx.state.lock:
        if action == "add":
            ctx.state.keywords.add(label)
        else:
            ctx.state.keywords.discard(label)
    return json_reply(
        {
            "etat": {
                "code": ctx.code("keyword_updated"),
                "keyword_label": label,
                "message": ctx.message("keyword_updated"),
            }
        }
    )


# --- dispatch -------------------------------------------------------------------------------------------

LISTENOIRE_PATHS = frozenset({"/setlistenoire", "/dellistenoire", "/getlistenoire"})
LEGACY = {("POST", "/qualification"), ("GET", "/keyword"), ("POST", "/keyword")}


def allowed_methods(config: EmulatorConfig, path: str) -> list[str]:
    """The methods served on ``path``, for the ``Allow`` header; empty when the path is unknown.

    ``HEAD`` goes wherever ``GET`` does, ``OPTIONS`` everywhere; ``/credit`` also takes ``POST`` (the
    official client's form since 2025) and ``GET`` only while ``accept_get_credit``.
    """
    methods = {method for method, known in spec.operations() if known == path}
    if config.legacy_endpoints:
        methods |= {method for method, known in LEGACY if known == path}
    if path == "/credit":
        methods.add("POST")
        if not config.accept_get_credit:
            methods.discard("GET")
    if not methods:
        return []
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods | {"OPTIONS"})


def _authenticate(ctx: Context, params: Mapping[str, Any], keyids: Mapping[str, Account], where: str) -> None:
    if ctx.config.allowed_ips is not None and ctx.client_ip not in ctx.config.allowed_ips:
        raise ApiError("ip_not_allowed", f"{ctx.client_ip} is not on the account's allow-list")
    key = params.get("keyid")
    if key is None or key == "":
        raise ApiError("missing_field", f"'keyid' ({where})")
    account = keyids.get(key) if isinstance(key, str) else None
    if account is None:
        raise ApiError("bad_credentials")
    ctx.account = account


def dispatch(
    ctx: Context,
    *,
    method: str,
    path: str,
    query: Mapping[str, Any],
    body: Any,
    body_kind: str,
    keyids: dict[str, Account],
) -> Reply:
    """Route one API request; request-level errors come back as the ``Erreur`` reply."""
    try:
        return _dispatch(
            ctx, method=method, path=path, query=query, body=body, body_kind=body_kind, keyids=keyids
        )
    except ApiError as error:
        return error_reply(ctx.config, error)


def _dispatch(
    ctx: Context,
    *,
    method: str,
    path: str,
    query: Mapping[str, Any],
    body: Any,
    body_kind: str,
    keyids: dict[str, Account],
) -> Reply:
    config = ctx.config
    ops = spec.operations()
    op = ops.get((method, path))
    where = f"{method} {path}"
    if op is None and method == "POST" and path == "/credit":
        op = ops[("GET", "/credit")]
    if op is not None and method == "GET" and path == "/credit" and not config.accept_get_credit:
        op = None
    legacy = config.legacy_endpoints and (method, path) in LEGACY
    if op is None and not legacy:
        allowed = allowed_methods(config, path)
        if allowed:
            return html_reply(405, "Method Not Allowed", [("Allow", ", ".join(allowed))])
        return html_reply(404, "Not Found")
    if body_kind == "invalid":
        raise ApiError("invalid_body", f"the {where} body is not valid JSON")

    location = op.location if op is not None else ("query" if method == "GET" else "body")
    if location == "body":
        if body_kind == "json" and not isinstance(body, dict):
            raise ApiError("invalid_body", f"the {where} body must be a JSON object")
        params: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
    else:
        params = dict(query)
        form_ok = path == "/credit" or (path in LISTENOIRE_PATHS and config.listenoire_form_body)
        if form_ok and isinstance(body, dict):
            params = {**body, **params}
    from_form = location == "query" or body_kind == "form"

    _authenticate(ctx, params, keyids, where)
    if op is None:
        if path == "/qualification":
            return qualification(ctx, params)
        return keyword(ctx, params)

    options: dict[str, Any] = {}
    if op.operation_id == "sendSmsMulti":
        if params.get("repertoireId") and (
            config.smsmulti_repertoire_without_num or isinstance(params.get("num"), list)
        ):
            # With a list, ``num`` may be empty: the spec requires the field, not a recipient in it.
            options["optional"] = frozenset({"num"})
        elif params.get("repertoireId") and "num" not in params:
            raise ApiError(
                "missing_field",
                "'num' (POST /smsmulti): the spec requires it with 'repertoireId' too; send \"num\": [] "
                "(the emulator accepts its omission with smsmulti_repertoire_without_num=true)",
            )
        if config.smsmulti_sms_as_string:
            options["string_as_array"] = frozenset({"sms"})
    if path in LISTENOIRE_PATHS:
        options["case_sensitive"] = config.strict_listenoire_casing
    clean = _validate(ctx, op, params, from_form=from_form, **options)

    handler = _HANDLERS[op.operation_id]
    return handler(ctx, clean, keyids)


_Handler = Callable[[Context, dict[str, Any], dict[str, Account]], Reply]
_HANDLERS: dict[str, _Handler] = {
    "sendSms": lambda ctx, p, _k: send(ctx, p, multi=False, path="/sms"),
    "sendSmsMulti": lambda ctx, p, _k: send(ctx, p, multi=True, path="/smsmulti"),
    "getCredit": lambda ctx, p, _k: credit(ctx, p),
    "getHlr": lambda ctx, p, _k: hlr(ctx, p),
    "comptage": lambda ctx, p, _k: comptage(ctx, p),
    "getCampagne": lambda ctx, p, _k: campagne(ctx, p),
    "repertoireCrea": lambda ctx, p, _k: repertoire_create(ctx, p),
    "repertoire": lambda ctx, p, _k: repertoire_edit(ctx, p),
    "setListeNoire": lambda ctx, p, _k: listenoire_set(ctx, p),
    "delListeNoire": lambda ctx, p, _k: listenoire_del(ctx, p),
    "getListeNoire": lambda ctx, p, _k: listenoire_get(ctx, p),
    "addShortlink": lambda ctx, p, _k: shortlink(ctx, p),
    "subaccountAdd": subaccount_add,
    "subaccountEdit": lambda ctx, p, _k: subaccount_edit(ctx, p),
}
