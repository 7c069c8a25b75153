"""One request builder per iSendPro operation: the only place that knows the French request fields.

Each builder validates its input with the ``sms`` rules (bad input never reaches iSendPro) and returns an
:class:`~airflow_provider_isendpro.client.calls.ApiCall`. The sync and async clients expose every builder
as a method of the same name and signature, so an endpoint is described exactly once.

Numbers may be given as strings (normalised with region FR, strict) or as already normalised
``PhoneNumber`` objects; texts as strings or as ``PreparedMessage`` objects (already checked). Bulk callers
pass the prepared objects so that nothing is validated twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_isendpro.client import responses
from airflow_provider_isendpro.client.calls import ApiCall, DownloadTarget
from airflow_provider_isendpro.client.models import (
    BlacklistChange,
    ContactList,
    ContactListEdit,
    Credit,
    Download,
    HlrResult,
    MessageCount,
    SendResult,
    ShortLink,
    SubAccount,
    SubAccountEdit,
)
from airflow_provider_isendpro.errors import IsendproValidationError

if TYPE_CHECKING:
    from airflow_provider_isendpro.sms import PhoneNumber, PreparedMessage, ScheduledSend

API_TIME_FORMAT = "%Y-%m-%d %H:%M"
#: ``/comptage`` declares ``smslong`` as an enum with the single value ``"999"`` (count dynamically).
COMPTAGE_SMSLONG = "999"
#: The 26 custom contact fields A..Z of a répertoire travel as champ2..champ27 (champ1 is the name).
CONTACT_FIELD_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --------------------------------------------------------------------------------------------------
# Shared input preparation


def _number(value: str | PhoneNumber) -> PhoneNumber:
    from airflow_provider_isendpro.sms import PhoneNumber, normalise_number

    if isinstance(value, PhoneNumber):
        return value
    return normalise_number(value)


def _numbers(values: Sequence[str | PhoneNumber], field: str = "numbers") -> list[PhoneNumber]:
    if isinstance(values, str) or not values:
        raise IsendproValidationError(
            field=field, value=values, rule="must be a non-empty list of phone numbers"
        )
    return [_number(v) for v in values]


def _message(
    text: str | PreparedMessage,
    *,
    metropolitan: bool,
    region: str | None,
    sender: str | None,
    nostop: bool,
    max_segments: int,
    transliterate: bool,
) -> PreparedMessage:
    from airflow_provider_isendpro.sms import PreparedMessage, prepare_message

    if isinstance(text, PreparedMessage):
        return text
    return prepare_message(
        text,
        metropolitan=metropolitan,
        region=region,
        transliterate=transliterate,
        stop_suffix=sender is not None and not nostop,
        max_segments=max_segments,
    )


def _one_message(
    number: PhoneNumber,
    text: str | PreparedMessage,
    *,
    sender: str | None,
    nostop: bool,
    max_segments: int,
    transliterate: bool,
    ucs2_overseas: bool,
) -> dict[str, Any]:
    """The message fields of ``/sms`` and ``/comptage``, from one prepared message.

    Both operations take these fields from here, so a count is made of exactly what would be sent: the
    same (transliterated) text, ``ucs2`` flag, sender and STOP choice, after the same checks.
    """
    message = _message(
        text,
        metropolitan=number.gsm_only_for(ucs2_overseas=ucs2_overseas),
        region=number.region,
        sender=sender,
        nostop=nostop,
        max_segments=max_segments,
        transliterate=transliterate,
    )
    if message.ucs2 and number.metropolitan:  # only a caller-prepared message gets here
        raise _ucs2_refused(number)
    fields: dict[str, Any] = {"num": number.wire, "sms": message.text, "smslong": message.smslong}
    fields.update(_send_options(sender=sender, send_at=None, nostop=nostop))
    if message.ucs2:
        fields["ucs2"] = "1"
    return fields


def _ucs2_refused(number: PhoneNumber) -> IsendproValidationError:
    from airflow_provider_isendpro.sms import region_name

    return IsendproValidationError(
        field="to",
        value=number.wire,
        rule=f"this request needs UCS-2, which is not sent to numbers of {region_name(number.region)} "
        "(GSM-7 only): send those numbers in a separate request, or transliterate",
    )


def _schedule(send_at: dt.datetime | str | ScheduledSend | None) -> dict[str, str]:
    if send_at is None:
        return {}
    from airflow_provider_isendpro.sms import ScheduledSend, schedule_send

    scheduled = send_at if isinstance(send_at, ScheduledSend) else schedule_send(send_at)
    return {"date_envoi": scheduled.date_envoi, "gmt_zone": scheduled.gmt_zone}


def _send_options(
    *, sender: str | None, send_at: dt.datetime | str | ScheduledSend | None, nostop: bool
) -> dict[str, str]:
    from airflow_provider_isendpro.sms import validate_sender

    fields: dict[str, str] = {}
    if sender is not None:
        fields["emetteur"] = validate_sender(sender)
    if nostop:
        fields["nostop"] = "1"
    fields.update(_schedule(send_at))
    return fields


def _trackers(trackers: Sequence[str], count: int) -> list[str]:
    from airflow_provider_isendpro.sms import validate_tracker

    if len(trackers) != count:
        raise IsendproValidationError(
            field="trackers",
            value=f"{len(trackers)} trackers",
            rule=f"must give exactly one tracker per number ({count})",
        )
    return [validate_tracker(t) for t in trackers]


# --------------------------------------------------------------------------------------------------
# Sends


def send_sms(
    to: str | PhoneNumber,
    text: str | PreparedMessage,
    *,
    sender: str | None = None,
    send_at: dt.datetime | str | ScheduledSend | None = None,
    tracker: str | None = None,
    nostop: bool = False,
    max_segments: int = 6,
    transliterate: bool = False,
    ucs2_overseas: bool = False,
    sandbox: bool | None = None,
) -> ApiCall[SendResult]:
    """Send one SMS to one number (``POST /sms``). Never retried once the request has left.

    :param to: the recipient, e.g. ``"06 12 34 56 78"`` or ``"+262692123456"``.
    :param text: the message; checked for encoding and length before sending.
    :param sender: custom sender (``emetteur``); a custom sender makes iSendPro append its STOP mention.
    :param send_at: schedule the send: an aware datetime or ISO string (naive or past times are refused).
    :param tracker: your id for this message, echoed in delivery reports (alphanumeric, < 50 chars).
    :param nostop: ask iSendPro not to append the STOP mention (approved non-commercial accounts only).
    :param max_segments: refuse a message longer than this many SMS parts (1 to 6).
    :param transliterate: replace characters outside GSM-7 (’ « œ ê…) for French numbers.
    :param ucs2_overseas: allow UCS-2 (non-GSM text) to the French overseas departments (Réunion,
        Guadeloupe...), which get GSM-7 only by default; metropolitan France always gets GSM-7 only.
    :param sandbox: override the connection's sandbox flag for this call.
    """
    fields = _one_message(
        _number(to),
        text,
        sender=sender,
        nostop=nostop,
        max_segments=max_segments,
        transliterate=transliterate,
        ucs2_overseas=ucs2_overseas,
    )
    fields.update(_schedule(send_at))
    if tracker is not None:
        fields["tracker"] = _trackers([tracker], 1)[0]
    return ApiCall(
        "sendSms", "POST", "/sms", fields, "json", responses.parse_send,
        repeatable=False, sandbox=sandbox, sandbox_capable=True,
    )  # fmt: skip


def send_sms_multi(
    to: Sequence[str | PhoneNumber],
    text: str | PreparedMessage | Sequence[str | PreparedMessage],
    *,
    sender: str | None = None,
    send_at: dt.datetime | str | ScheduledSend | None = None,
    trackers: Sequence[str] | None = None,
    nostop: bool = False,
    max_segments: int = 6,
    transliterate: bool = False,
    ucs2_overseas: bool = False,
    sandbox: bool | None = None,
) -> ApiCall[SendResult]:
    """Send to several numbers in one request (``POST /smsmulti``): one shared text, or one text per number.

    ``text`` is either one message for everybody or a list aligned with ``to``; ``trackers`` likewise
    aligns with ``to``. ``ucs2`` is one flag for the whole request, so a request that needs UCS-2 must not
    include GSM-only numbers (metropolitan France; the overseas departments unless ``ucs2_overseas``):
    split such batches by region. Other parameters as for :func:`send_sms`. Never retried once the
    request has left.
    """
    from airflow_provider_isendpro.sms import PreparedMessage

    numbers = _numbers(to, "to")
    shared = isinstance(text, (str, PreparedMessage))
    texts: list[str | PreparedMessage] = [text] if isinstance(text, (str, PreparedMessage)) else list(text)
    if not shared and len(texts) != len(numbers):
        raise IsendproValidationError(
            field="text",
            value=f"{len(texts)} texts",
            rule=f"a list of texts must give exactly one text per number ({len(numbers)})",
        )
    gsm_only = [n.gsm_only_for(ucs2_overseas=ucs2_overseas) for n in numbers]
    first_gsm_only = next((n for n, g in zip(numbers, gsm_only, strict=True) if g), None)
    given = [texts[0] if shared else texts[i] for i in range(len(numbers))]
    messages = [
        _message(
            t,
            metropolitan=first_gsm_only is not None if shared else gsm_only[i],
            region=(first_gsm_only or numbers[0]).region if shared else numbers[i].region,
            sender=sender,
            nostop=nostop,
            max_segments=max_segments,
            transliterate=transliterate,
        )
        for i, t in enumerate(texts)
    ]
    ucs2 = any(m.ucs2 for m in messages)
    # One ucs2 flag per request: it must not reach a metropolitan number (iSendPro's rule), nor a number
    # kept GSM-only by policy whose text was prepared here. A caller-prepared message carries its policy.
    blocked = next(
        (
            n
            for n, g, t in zip(numbers, gsm_only, given, strict=True)
            if n.metropolitan or (g and not isinstance(t, PreparedMessage))
        ),
        None,
    )
    if ucs2 and blocked is not None:
        raise _ucs2_refused(blocked)
    fields: dict[str, Any] = {
        "num": [n.wire for n in numbers],
        "sms": [m.text for m in messages],
        "smslong": str(max(int(m.smslong) for m in messages)),
    }
    fields.update(_send_options(sender=sender, send_at=send_at, nostop=nostop))
    if ucs2:
        fields["ucs2"] = "1"
    if trackers is not None:
        fields["tracker"] = _trackers(trackers, len(numbers))
    return ApiCall(
        "sendSmsMulti", "POST", "/smsmulti", fields, "json", responses.parse_send,
        repeatable=False, sandbox=sandbox, sandbox_capable=True,
    )  # fmt: skip


def send_to_contact_list(
    list_id: str,
    text: str | PreparedMessage,
    *,
    sender: str | None = None,
    send_at: dt.datetime | str | ScheduledSend | None = None,
    nostop: bool = False,
    max_segments: int = 6,
    transliterate: bool = False,
    sandbox: bool | None = None,
) -> ApiCall[SendResult]:
    """Send one text to every number of a stored répertoire (``POST /smsmulti`` with ``repertoireId``).

    The list's numbers are not known here, so the text is checked as for French numbers (GSM-7 only).

    Wire form: ``{"repertoireId": ..., "num": [], "sms": [...]}``. The spec marks ``num`` required on
    ``/smsmulti`` and the only known client of the répertoire form omits it (API-NOTES 6.2, UNCERTAIN).
    An empty array satisfies the spec (present, an array) and adds no recipient, so it works whether the
    server requires the field, ignores it, or merges it with the list; omitting it only works in the last
    two cases. The emulator follows the spec by default and accepts the omission only when started with
    ``smsmulti_repertoire_without_num=True``.
    """
    message = _message(
        text,
        metropolitan=True,
        region=None,
        sender=sender,
        nostop=nostop,
        max_segments=max_segments,
        transliterate=transliterate,
    )
    fields: dict[str, Any] = {
        "repertoireId": _list_id(list_id),
        "num": [],
        "sms": [message.text],
        "smslong": message.smslong,
    }
    fields.update(_send_options(sender=sender, send_at=send_at, nostop=nostop))
    return ApiCall(
        "sendSmsMulti", "POST", "/smsmulti", fields, "json", responses.parse_send,
        repeatable=False, sandbox=sandbox, sandbox_capable=True,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Reads


def get_credit(*, with_sms_estimate: bool = True) -> ApiCall[Credit]:
    """Remaining credit in euros, plus iSendPro's estimate in SMS to France (``/credit``; free).

    Sent as ``POST`` with a form body, as iSendPro's own client does since 2025, so the key stays out of
    the URL.
    """
    fields = {"credit": "2" if with_sms_estimate else "1"}
    return ApiCall("getCredit", "POST", "/credit", fields, "form", responses.parse_credit, repeatable=True)


def hlr_lookup(numbers: Sequence[str | PhoneNumber]) -> ApiCall[list[HlrResult]]:
    """Ask the networks whether numbers exist and which operator serves them (``POST /hlr``; billed).

    Invalid numbers are refused locally, never paid for. Retried only when nothing reached iSendPro.
    """
    wires = [n.wire for n in _numbers(numbers)]
    fields = {"getHLR": "1", "num": wires}
    return ApiCall("getHlr", "POST", "/hlr", fields, "json", responses.parse_hlr, repeatable=False)


def count_message(
    to: str | PhoneNumber,
    text: str | PreparedMessage,
    *,
    sender: str | None = None,
    nostop: bool = False,
    max_segments: int = 6,
    transliterate: bool = False,
    ucs2_overseas: bool = False,
) -> ApiCall[MessageCount]:
    """iSendPro's own count of characters and SMS parts for a message, without sending (``/comptage``).

    Takes the same arguments as :func:`send_sms` (scheduling and tracker aside) and prepares the message
    the same way, so the count is made of what the send would carry: the same encoding checks (text
    that the send would refuse is refused here too), transliteration, ``ucs2`` flag, sender and STOP
    choice (API-NOTES 6.5). The one difference on the wire is ``smslong``: the spec allows only
    ``"999"`` on ``/comptage``, so the ``max_segments`` cap is applied locally, as for the send.
    """
    fields = _one_message(
        _number(to),
        text,
        sender=sender,
        nostop=nostop,
        max_segments=max_segments,
        transliterate=transliterate,
        ucs2_overseas=ucs2_overseas,
    )
    fields = {"comptage": "1", **fields, "smslong": COMPTAGE_SMSLONG}
    return ApiCall("comptage", "POST", "/comptage", fields, "json", responses.parse_count, repeatable=True)


def _api_time(field: str, value: dt.datetime | dt.date | str) -> tuple[str, dt.datetime]:
    """iSendPro report bounds: ``YYYY-MM-DD hh:mm`` in French wall time."""
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise IsendproValidationError(
                field=field, value=value, rule="must be a date or datetime like '2026-01-31 23:00'"
            ) from None
        value = parsed if parsed.tzinfo else parsed.replace(tzinfo=paris)
    elif not isinstance(value, dt.date):
        raise IsendproValidationError(
            field=field,
            value=value,
            rule="must be a date, an aware datetime, or a string like '2026-01-31 23:00'",
        )
    elif not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), tzinfo=paris)
    elif value.tzinfo is None:
        raise IsendproValidationError(
            field=field, value=value, rule="must be timezone-aware (give a tzinfo, e.g. pendulum)"
        )
    try:
        local = value.astimezone(paris)
    except OverflowError:
        raise IsendproValidationError(field=field, value=value, rule="is outside years 1 to 9999") from None
    # Written field by field: strftime("%Y") does not pad years below 1000 to four digits.
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    return text, local


def download_campaign_report(
    start: dt.datetime | dt.date | str,
    end: dt.datetime | dt.date | str,
    destination: DownloadTarget,
) -> ApiCall[Download]:
    """Download the report of every SMS sent between ``start`` and ``end`` (``GET /campagne``).

    iSendPro answers with a zip holding one CSV; it is streamed to ``destination`` (a path, written
    atomically, or a binary file object). Strings without an offset and dates are French local time.
    Read it with :func:`airflow_provider_isendpro.client.reports.iter_report_rows`.
    """
    date_deb, start_at = _api_time("start", start)
    date_fin, end_at = _api_time("end", end)
    if end_at <= start_at:
        raise IsendproValidationError(
            field="end", value=date_fin, rule=f"must be after start ({date_deb}): the range is inverted"
        )
    fields = {"rapportCampagne": "1", "date_deb": date_deb, "date_fin": date_fin}
    return ApiCall(
        "getCampagne", "GET", "/campagne", fields, "query", responses.parse_download,
        repeatable=True, download_to=destination,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Répertoires (contact lists)


def _list_id(list_id: str | int) -> str:
    text = str(list_id).strip()
    if not text.isdigit():
        raise IsendproValidationError(
            field="list_id", value=list_id, rule="must be the numeric repertoireId iSendPro returned"
        )
    return text


def create_contact_list(name: str) -> ApiCall[ContactList]:
    """Create a répertoire (contact list) and return its id (``POST /repertoire``)."""
    if not isinstance(name, str) or not name.strip():
        raise IsendproValidationError(field="name", value=name, rule="must be a non-empty list name")
    fields = {"repertoireEdit": "create", "repertoireNom": name.strip()}
    return ApiCall(
        "repertoireCrea", "POST", "/repertoire", fields, "json", responses.parse_contact_list,
        repeatable=False,
    )  # fmt: skip


def add_to_contact_list(
    list_id: str | int,
    numbers: Sequence[str | PhoneNumber],
    *,
    names: Sequence[str] | None = None,
    custom_fields: Mapping[str, Sequence[str]] | None = None,
) -> ApiCall[ContactListEdit]:
    """Add numbers to a répertoire (``PUT /repertoire``), optionally with names and custom fields A..Z.

    ``names`` and every ``custom_fields`` column must align with ``numbers``.
    """
    wires = [n.wire for n in _numbers(numbers)]
    fields: dict[str, Any] = {"repertoireEdit": "add", "repertoireId": _list_id(list_id), "num": wires}
    columns: dict[str, Sequence[str]] = {"champ1": names} if names is not None else {}
    for letter, values in (custom_fields or {}).items():
        key = str(letter).strip().upper()
        if len(key) != 1 or key not in CONTACT_FIELD_LETTERS:
            raise IsendproValidationError(
                field="custom_fields", value=letter, rule="keys must be single letters A to Z"
            )
        columns[f"champ{CONTACT_FIELD_LETTERS.index(key) + 2}"] = values
    for name, values in columns.items():
        if isinstance(values, str) or len(values) != len(wires):
            raise IsendproValidationError(
                field=name, value=values, rule=f"must be a list with one value per number ({len(wires)})"
            )
        fields[name] = [str(v) for v in values]
    return ApiCall(
        "repertoire", "PUT", "/repertoire", fields, "json", responses.parse_contact_list_edit,
        repeatable=False,
    )  # fmt: skip


def remove_from_contact_list(
    list_id: str | int, numbers: Sequence[str | PhoneNumber]
) -> ApiCall[ContactListEdit]:
    """Remove numbers from a répertoire (``PUT /repertoire``). Safe to repeat."""
    fields = {
        "repertoireEdit": "del",
        "repertoireId": _list_id(list_id),
        "num": [n.wire for n in _numbers(numbers)],
    }
    return ApiCall(
        "repertoire", "PUT", "/repertoire", fields, "json", responses.parse_contact_list_edit,
        repeatable=True,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Liste noire (blacklist). The spec puts these parameters in the query string, with irregular casing.


def blacklist_add(number: str | PhoneNumber) -> ApiCall[BlacklistChange]:
    """Add a number to the account's blacklist (``POST /setlistenoire``). Safe to repeat."""
    fields = {"setlisteNoire": "1", "num": _number(number).wire}
    return ApiCall(
        "setListeNoire", "POST", "/setlistenoire", fields, "query", responses.parse_blacklist_change,
        repeatable=True,
    )  # fmt: skip


def blacklist_remove(number: str | PhoneNumber) -> ApiCall[BlacklistChange]:
    """Remove a number from the account's blacklist (``POST /dellistenoire``). Safe to repeat."""
    fields = {"delListeNoire": "1", "num": _number(number).wire}
    return ApiCall(
        "delListeNoire", "POST", "/dellistenoire", fields, "query", responses.parse_blacklist_change,
        repeatable=True,
    )  # fmt: skip


def download_blacklist(destination: DownloadTarget) -> ApiCall[Download]:
    """Download the account's blacklist, a zipped CSV, to ``destination`` (``POST /getlistenoire``)."""
    return ApiCall(
        "getListeNoire", "POST", "/getlistenoire", {"getListeNoire": "1"}, "query",
        responses.parse_download, repeatable=True, download_to=destination,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Short links and sub-accounts


def create_short_link(url: str) -> ApiCall[ShortLink]:
    """Shorten ``url`` with iSendPro's link service (``POST /shortlink``)."""
    parts = urlsplit(url if isinstance(url, str) else "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise IsendproValidationError(field="url", value=url, rule="must be an absolute http(s) URL")
    return ApiCall(
        "addShortlink", "POST", "/shortlink", {"shortlink": url}, "json", responses.parse_short_link,
        repeatable=False,
    )  # fmt: skip


def _required(field: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise IsendproValidationError(field=field, value=value, rule="must be a non-empty string")
    return value.strip()


def create_sub_account(login: str, password: str) -> ApiCall[SubAccount]:
    """Create a sub-account (``POST /subaccount``). Its new API key is masked and kept out of XCom."""
    fields = {
        "subAccountEdit": "addAccount",
        "subAccountLogin": _required("login", login),
        "subAccountPassword": _required("password", password),
    }
    return ApiCall(
        "subaccountAdd", "POST", "/subaccount", fields, "json", responses.parse_sub_account,
        repeatable=False, secrets=(password,),
    )  # fmt: skip


def _sub_account_edit(
    action: str, sub_account_key: str, fields: dict[str, str], *, repeatable: bool
) -> ApiCall[SubAccountEdit]:
    key = _required("sub_account_key", sub_account_key)
    body = {"subAccountEdit": action, "subAccountKeyId": key, **fields}
    return ApiCall(
        "subaccountEdit", "PUT", "/subaccount", body, "json", responses.parse_sub_account_edit,
        repeatable=repeatable, secrets=(key,),
    )  # fmt: skip


def _amount(field: str, value: float) -> str:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        amount = float("nan")
    if not amount >= 0 or amount == float("inf"):
        raise IsendproValidationError(field=field, value=value, rule="must be a number >= 0")
    return f"{amount:g}"


def set_sub_account_price(sub_account_key: str, price: float, country_code: str) -> ApiCall[SubAccountEdit]:
    """Set the price per SMS a sub-account pays for one destination country (``setPrice``)."""
    code = str(country_code).strip().lstrip("+")
    if not code.isdigit():
        raise IsendproValidationError(
            field="country_code", value=country_code, rule="must be a dialling code such as '33'"
        )
    fields = {"subAccountPrice": _amount("price", price), "subAccountCountryCode": code}
    return _sub_account_edit("setPrice", sub_account_key, fields, repeatable=True)


def add_sub_account_credit(sub_account_key: str, amount: float) -> ApiCall[SubAccountEdit]:
    """Move credit to a sub-account (``addCredit``). Not repeatable: a resend would add it twice."""
    return _sub_account_edit(
        "addCredit", sub_account_key, {"subAccountAddCredit": _amount("amount", amount)}, repeatable=False
    )


def set_sub_account_restrictions(
    sub_account_key: str, *, stop_mention: bool, quiet_hours: bool
) -> ApiCall[SubAccountEdit]:
    """Switch a sub-account's mandatory STOP mention and 20:00-08:00 restriction (``setRestriction``)."""
    fields = {
        "subAccountRestrictionStop": "1" if stop_mention else "0",
        "subAccountRestrictionTime": "1" if quiet_hours else "0",
    }
    return _sub_account_edit("setRestriction", sub_account_key, fields, repeatable=True)
