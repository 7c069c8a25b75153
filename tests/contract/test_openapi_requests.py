"""Every client operation's request, as it leaves each transport, validated with openapi-core against the
packaged official spec (``airflow_provider_isendpro/testing/openapi.json``).

The requests are captured on the wire (a ``requests`` response hook, an ``httpx`` request hook), so what
is validated is what iSendPro would receive: method, path, query string, content type and body bytes.
They are sent to the emulator, which must accept them too. The only request that departs from the spec
is listed in ``deviations.CLIENT_REQUEST_DEVIATIONS``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from airflow_provider_isendpro.client import (
    AsyncIsendproClient,
    ClientConfig,
    IsendproClient,
    RetryPolicy,
    endpoints,
)
from airflow_provider_isendpro.testing import IsendproEmulator

from .deviations import CLIENT_REQUEST_DEVIATIONS

SPEC = json.loads(resources.files("airflow_provider_isendpro.testing").joinpath("openapi.json").read_text())
OPENAPI = OpenAPI.from_dict(SPEC)
SPEC_HOST = "https://apirest.isendpro.com"  # the spec's server; the captured path is replayed against it
SUB_KEY = "emulator-sub-key"  # replaced by the real key of the sub-account the setup creates


@dataclass
class WireCapture:
    """One request as sent: what openapi-core's ``Request`` protocol needs."""

    method: str
    path: str
    query: list[tuple[str, str]]
    content_type: str
    body: bytes | None
    status: int = 0

    # openapi-core's Request protocol.
    host_url: str = SPEC_HOST
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(self.query), header=Headers({"Content-Type": self.content_type})
        )


def _capture(method: str, url: str, headers: Any, body: bytes | None) -> WireCapture:
    split = urlsplit(url)
    return WireCapture(
        method=method.lower(),
        path=split.path[split.path.index("/cgi-bin") :],
        query=parse_qsl(split.query, keep_blank_values=True),
        content_type=str(headers.get("Content-Type") or "").lower(),
        body=body or None,
    )


# --------------------------------------------------------------------------------------------------
# The cases: every public builder of client/endpoints.py, with the options that change the wire form.


@dataclass(frozen=True)
class Case:
    id: str
    operation: str  # the spec's operationId the request must match
    call: Callable[[Any, dict[str, str]], Any]  # (client, setup ids) -> result or awaitable


CASES = [
    Case("send_sms", "sendSms", lambda c, _: c.send_sms("06 12 34 56 78", "Bonjour")),
    Case("send_sms_options", "sendSms", lambda c, _: c.send_sms(
        "0612345678", "Promo €", sender="ACME", tracker="abc123", nostop=True, max_segments=2,
        send_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))),
    Case("send_sms_ucs2_abroad", "sendSms", lambda c, _: c.send_sms("+447911123456", "Привет 😀")),
    Case("send_sms_ucs2_overseas", "sendSms",
         lambda c, _: c.send_sms("0692123456", "Привет", ucs2_overseas=True)),
    Case("send_sms_transliterated", "sendSms",
         lambda c, _: c.send_sms("0612345678", "l’été « chaud »", transliterate=True)),
    Case("send_sms_sandbox", "sendSms", lambda c, _: c.send_sms("0612345678", "Test", sandbox=True)),
    Case("send_sms_multi", "sendSmsMulti", lambda c, _: c.send_sms_multi(
        ["0612345678", "0756123456"], "Bonjour", trackers=["t1", "t2"], sender="ACME")),
    Case("send_sms_multi_per_number", "sendSmsMulti", lambda c, _: c.send_sms_multi(
        ["0612345678", "0756123456"], ["Bonjour Ann", "Bonjour Bob"])),
    Case("send_to_contact_list", "sendSmsMulti",
         lambda c, ids: c.send_to_contact_list(ids["list"], "Ce soir")),
    Case("get_credit", "getCredit", lambda c, _: c.get_credit()),
    Case("get_credit_euros", "getCredit", lambda c, _: c.get_credit(with_sms_estimate=False)),
    Case("hlr_lookup", "getHlr", lambda c, _: c.hlr_lookup(["0612345678", "+33756123456"])),
    Case("count_message", "comptage", lambda c, _: c.count_message("0612345678", "Bonjour", sender="ACME")),
    Case("count_message_ucs2", "comptage", lambda c, _: c.count_message("+447911123456", "Привет")),
    Case("download_campaign_report", "getCampagne", lambda c, _: c.download_campaign_report(
        "2026-01-01 00:00", "2026-01-31 23:00", io.BytesIO())),
    Case("create_contact_list", "repertoireCrea", lambda c, _: c.create_contact_list("Astreinte")),
    Case("add_to_contact_list", "repertoire", lambda c, ids: c.add_to_contact_list(
        ids["list"], ["0612345678", "0756123456"], names=["Ann", "Bob"], custom_fields={"A": ["x", "y"]})),
    Case("remove_from_contact_list", "repertoire",
         lambda c, ids: c.remove_from_contact_list(ids["list"], ["0612345678"])),
    Case("blacklist_add", "setListeNoire", lambda c, _: c.blacklist_add("0612345678")),
    Case("blacklist_remove", "delListeNoire", lambda c, _: c.blacklist_remove("0612345678")),
    Case("download_blacklist", "getListeNoire", lambda c, _: c.download_blacklist(io.BytesIO())),
    Case("create_short_link", "addShortlink", lambda c, _: c.create_short_link("https://example.com/a")),
    Case("create_sub_account", "subaccountAdd", lambda c, _: c.create_sub_account("agence06", "s3cret-pw")),
    Case("set_sub_account_price", "subaccountEdit",
         lambda c, ids: c.set_sub_account_price(ids["sub"], 0.045, "33")),
    Case("add_sub_account_credit", "subaccountEdit", lambda c, ids: c.add_sub_account_credit(ids["sub"], 10)),
    Case("set_sub_account_restrictions", "subaccountEdit", lambda c, ids: c.set_sub_account_restrictions(
        ids["sub"], stop_mention=True, quiet_hours=False)),
]  # fmt: skip

BUILDERS = {
    name
    for name, value in vars(endpoints).items()
    if callable(value) and not name.startswith("_") and getattr(value, "__module__", "") == endpoints.__name__
    and "ApiCall" in str(getattr(value, "__annotations__", {}).get("return", ""))
}  # fmt: skip


def _operation_id(capture: WireCapture) -> str:
    spec_path = capture.path.removeprefix("/cgi-bin")
    return str(SPEC["paths"][spec_path][capture.method]["operationId"])


def _setup(emu: IsendproEmulator) -> dict[str, str]:
    """A répertoire and a sub-account to act on, made with plain HTTP (not the client under test)."""
    key = emu.api_key
    with requests.Session() as http:
        rep = http.post(
            emu.base_url + "/repertoire",
            json={"keyid": key, "repertoireEdit": "create", "repertoireNom": "x"},
            timeout=5,
        ).json()["etat"]["etat"][0]["repertoireId"]
        http.put(
            emu.base_url + "/repertoire",
            json={"keyid": key, "repertoireEdit": "add", "repertoireId": rep, "num": ["0612345678"]},
            timeout=5,
        ).raise_for_status()
        sub = http.post(
            emu.base_url + "/subaccount",
            json={"keyid": key, "subAccountEdit": "addAccount", "subAccountLogin": "setup",
                  "subAccountPassword": "pw"},
            timeout=5,
        ).json()["etat"]["etat"][0]["subAccountKeyId"]  # fmt: skip
    return {"list": str(rep), "sub": str(sub)}


def _config(emu: IsendproEmulator) -> ClientConfig:
    return ClientConfig(
        api_key=emu.api_key,
        base_url=emu.base_url,
        connect_timeout=2.0,
        read_timeout=5.0,
        retry=RetryPolicy(max_attempts=1),
    )


def _sync_run(emu: IsendproEmulator, case: Case, ids: dict[str, str]) -> list[WireCapture]:
    captured: list[WireCapture] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent = response.request
        body = sent.body.encode() if isinstance(sent.body, str) else sent.body
        capture = _capture(str(sent.method), str(sent.url), sent.headers, body)
        capture.status = response.status_code
        captured.append(capture)

    session = requests.Session()
    session.hooks["response"].append(hook)
    with IsendproClient(_config(emu), session=session) as client:
        case.call(client, ids)
    return captured


def _async_run(emu: IsendproEmulator, case: Case, ids: dict[str, str]) -> list[WireCapture]:
    captured: list[WireCapture] = []

    async def on_response(response: httpx.Response) -> None:
        sent = response.request
        capture = _capture(sent.method, str(sent.url), sent.headers, sent.content)
        capture.status = response.status_code
        captured.append(capture)

    async def main() -> None:
        http = httpx.AsyncClient(event_hooks={"response": [on_response]}, timeout=5.0)
        async with AsyncIsendproClient(_config(emu), http=http) as client:
            await case.call(client, ids)

    asyncio.run(main())
    return captured


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., list[WireCapture]]:
    return _sync_run if request.param == "sync" else _async_run


@pytest.fixture
def emu(isendpro_emulator: IsendproEmulator) -> Iterator[IsendproEmulator]:
    yield isendpro_emulator


def _validate(capture: WireCapture) -> None:
    if _deviating_operation(capture) == "getCredit":
        # Documented deviation: POST + form body. The same fields must be a valid GET /credit query.
        assert (capture.method, capture.content_type) == ("post", "application/x-www-form-urlencoded")
        assert capture.query == []
        fields = parse_qsl((capture.body or b"").decode(), keep_blank_values=True)
        replay = WireCapture("get", capture.path, fields, "", None)
        OPENAPI.validate_request(replay)
        return
    OPENAPI.validate_request(capture)


def _deviating_operation(capture: WireCapture) -> str | None:
    if capture.path == "/cgi-bin/credit" and capture.method == "post":
        return "getCredit"
    return None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_request_is_valid_against_the_spec(
    case: Case, emu: IsendproEmulator, run: Callable[..., list[WireCapture]]
) -> None:
    ids = _setup(emu)
    [capture] = run(emu, case, ids)
    deviation = _deviating_operation(capture)
    assert (deviation or _operation_id(capture)) == case.operation
    assert deviation is None or deviation in CLIENT_REQUEST_DEVIATIONS
    _validate(capture)
    assert capture.status == 200  # and the emulator, which validates against the same spec, took it


def test_every_builder_and_every_spec_operation_is_covered() -> None:
    assert len(BUILDERS) == 18
    missing = BUILDERS - {case.id for case in CASES}
    assert not missing, f"builders without a contract case: {sorted(missing)}"
    spec_operations = {op["operationId"] for methods in SPEC["paths"].values() for op in methods.values()}
    assert {case.operation for case in CASES} == spec_operations


def test_the_validator_catches_a_contract_break() -> None:
    """The checks above can fail: a /comptage with smslong "6" (the spec allows only "999") is refused."""
    from openapi_core.validation.request.exceptions import InvalidRequestBody

    body = {"keyid": "k", "comptage": "1", "num": "0612345678", "sms": "x", "smslong": "6"}
    bad = WireCapture("post", "/cgi-bin/comptage", [], "application/json", json.dumps(body).encode())
    with pytest.raises(InvalidRequestBody):
        OPENAPI.validate_request(bad)
    # So is the GET a client would need for /credit without the documented deviation's replay.
    form = WireCapture(
        "post", "/cgi-bin/credit", [], "application/x-www-form-urlencoded", b"keyid=k&credit=2"
    )
    with pytest.raises(Exception, match="Operation post not found"):
        OPENAPI.validate_request(form)
