"""Every client operation against the emulator: the exact request it received and the typed result.

Each scenario runs twice, on the sync client and on the async one (the ``client`` fixture is parametrized
over both transports), so the two share one description of every endpoint. The requests assert where
``keyid`` travels (API-NOTES §2): the JSON body for most calls, the form body of ``POST /credit``, the
query string for ``/campagne`` and the liste-noire calls. The end of the file covers the downloads and
what only the sync client has (its pooled ``requests.Session``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_isendpro.client import (
    ClientConfig,
    Download,
    IsendproClient,
    iter_report_rows,
)
from airflow_provider_isendpro.errors import (
    IsendproApiError,
    IsendproResponseError,
    IsendproServerError,
    IsendproTransportError,
)
from airflow_provider_isendpro.testing import (
    DEFAULT_API_KEY,
    MAGIC_BLACKLISTED,
    MAGIC_UNASSIGNED,
    IsendproEmulator,
)

from .conftest import Client, MakeClient, TruncatingServer, assert_request, new_requests, only_request

KEY = DEFAULT_API_KEY
SENT = "Votre message a bien ete envoye"
BLACKLISTED = "Le numéro de téléphone est dans la liste noire!"
UNASSIGNED = "Le numéro de téléphone n'est pas attribué!"
LIST_UPDATED = "Le repertoire a ete modifie"
SUB_UPDATED = "Le sous compte a ete modifie"


def accepted(number: str, segments: int = 1, code: Any = 0) -> dict[str, Any]:
    """``to_dict()`` of a recipient iSendPro accepted (``code`` as the emulator typed it in ``raw``)."""
    raw = {"code": code, "tel": number, "message": SENT, "smslong": str(segments)}
    return {"number": number, "code": 0, "message": SENT, "segments": segments, "raw": raw, "accepted": True}


def refused(number: str, code: int, message: str) -> dict[str, Any]:
    raw = {"code": code, "tel": number, "message": message}
    return {
        "number": number,
        "code": code,
        "message": message,
        "segments": None,
        "raw": raw,
        "accepted": False,
    }


def list_member(number: str, list_id: str = "1001") -> dict[str, Any]:
    raw = {"code": "0", "message": LIST_UPDATED, "repertoireId": list_id, "tel": number}
    return {"number": number, "code": 0, "message": LIST_UPDATED, "segments": None, "raw": raw}


def create_list(emu: IsendproEmulator, name: str, members: list[str]) -> str:
    """Set up a répertoire with plain HTTP (not through the client under test)."""
    url = emu.base_url + "/repertoire"
    with requests.Session() as http:
        body = {"keyid": KEY, "repertoireEdit": "create", "repertoireNom": name}
        list_id = str(http.post(url, json=body, timeout=5).json()["etat"]["etat"][0]["repertoireId"])
        if members:
            body = {"keyid": KEY, "repertoireEdit": "add", "repertoireId": list_id, "num": members}
            assert http.put(url, json=body, timeout=5).status_code == 200
    return list_id


def create_sub_account(emu: IsendproEmulator, login: str = "agence06") -> str:
    """Set up a sub-account with plain HTTP; returns its key."""
    body = {
        "keyid": KEY,
        "subAccountEdit": "addAccount",
        "subAccountLogin": login,
        "subAccountPassword": "pw",
    }
    with requests.Session() as http:
        answer = http.post(emu.base_url + "/subaccount", json=body, timeout=5).json()
    return str(answer["etat"]["etat"][0]["subAccountKeyId"])


# --------------------------------------------------------------------------------------------------
# Sends


def test_send_sms(client: Client, emu: IsendproEmulator) -> None:
    result = client("send_sms", "06 12 34 56 78", "Bonjour", sender="acme", tracker="T1")

    assert_request(
        only_request(emu), "POST", "/sms",
        json={"keyid": KEY, "num": "0612345678", "sms": "Bonjour", "smslong": "6", "emetteur": "ACME",
              "tracker": "T1"},
    )  # fmt: skip
    assert result.to_dict() == {"recipients": [accepted("0612345678")]}
    (sms,) = emu.sent
    assert (sms.tel, sms.text, sms.sender, sms.tracker, sms.path, sms.sandbox) == (
        "0612345678", "Bonjour", "ACME", "T1", "/sms", False,
    )  # fmt: skip
    assert emu.credit == pytest.approx(99.95)
    assert client.delays == []


def test_send_sms_scheduled_without_stop_in_sandbox(client: Client, emu: IsendproEmulator) -> None:
    at = dt.datetime(2031, 7, 14, 10, 0, tzinfo=dt.timezone.utc)  # 12:00 in Paris (summer time)
    result = client("send_sms", "0612345678", "Rappel", send_at=at, nostop=True, max_segments=2, sandbox=True)

    assert_request(
        only_request(emu), "POST", "/sms",
        json={"keyid": KEY, "num": "0612345678", "sms": "Rappel", "smslong": "2", "nostop": "1",
              "date_envoi": "2031-07-14 12:00", "gmt_zone": "Europe/Brussels", "sandbox": "1"},
    )  # fmt: skip
    assert result.to_dict() == {"recipients": [accepted("0612345678")]}
    (sms,) = emu.sent
    assert (sms.sandbox, sms.nostop, sms.date_envoi, sms.cost) == (True, True, "2031-07-14 12:00", 0.0)
    assert emu.credit == 100.0  # sandbox sends are not billed


def test_send_sms_sandbox_from_the_config_and_ucs2_abroad(
    make_client: MakeClient, emu: IsendproEmulator
) -> None:
    client = make_client(sandbox=True)
    result = client("send_sms", "+7 912 345 67 89", "Привет")

    assert_request(
        only_request(emu), "POST", "/sms",
        json={"keyid": KEY, "num": "79123456789", "sms": "Привет", "smslong": "6", "ucs2": "1",
              "sandbox": "1"},
    )  # fmt: skip
    assert result.to_dict() == {"recipients": [accepted("79123456789")]}
    assert (emu.sent[0].encoding, emu.sent[0].ucs2) == ("UCS-2", True)


def test_send_sms_multi_mixed_result(client: Client, emu: IsendproEmulator) -> None:
    numbers = ["0612345678", MAGIC_BLACKLISTED, MAGIC_UNASSIGNED]
    result = client("send_sms_multi", numbers, "Hello", sender="ACME", trackers=["A1", "A2", "A3"])

    assert_request(
        only_request(emu), "POST", "/smsmulti",
        json={"keyid": KEY, "num": numbers, "sms": ["Hello"], "smslong": "6", "emetteur": "ACME",
              "tracker": ["A1", "A2", "A3"]},
    )  # fmt: skip
    assert result.to_dict() == {
        "recipients": [
            accepted("0612345678"),
            refused(MAGIC_BLACKLISTED, 11, BLACKLISTED),
            refused(MAGIC_UNASSIGNED, 21, UNASSIGNED),
        ]
    }
    assert [(s.tel, s.tracker) for s in emu.sent] == [("0612345678", "A1")]


def test_send_sms_multi_one_text_per_number(client: Client, emu: IsendproEmulator) -> None:
    long_text = "x" * 200  # 2 parts
    result = client("send_sms_multi", ["0612345678", "+33 7 56 12 34 56"], ["Hi Ann", long_text])

    assert_request(
        only_request(emu), "POST", "/smsmulti",
        json={"keyid": KEY, "num": ["0612345678", "0756123456"], "sms": ["Hi Ann", long_text],
              "smslong": "6"},
    )  # fmt: skip
    assert result.to_dict() == {"recipients": [accepted("0612345678"), accepted("0756123456", 2)]}
    assert [(s.tel, s.text) for s in emu.sent] == [("0612345678", "Hi Ann"), ("0756123456", long_text)]


@pytest.mark.parametrize("lenient", [False, True], ids=["spec-emulator", "lenient-emulator"])
def test_send_to_contact_list(client: Client, emu: IsendproEmulator, lenient: bool) -> None:
    # The wire form carries "num": [] (the spec requires the field): accepted whether or not the emulator
    # tolerates its omission.
    emu.configure(smsmulti_repertoire_without_num=lenient)
    list_id = create_list(emu, "Astreinte", ["0612345678", "0756123456"])
    before = len(emu.requests)

    result = client("send_to_contact_list", list_id, "Astreinte ce soir")

    assert_request(
        only_request(emu, before), "POST", "/smsmulti",
        json={"keyid": KEY, "repertoireId": list_id, "num": [], "sms": ["Astreinte ce soir"],
              "smslong": "6"},
    )  # fmt: skip
    assert result.to_dict() == {"recipients": [accepted("0612345678"), accepted("0756123456")]}
    assert [s.tel for s in emu.sent] == ["0612345678", "0756123456"]


# --------------------------------------------------------------------------------------------------
# Reads


@pytest.mark.parametrize(("estimate", "flag", "expected"), [(True, "2", 2000), (False, "1", None)])
def test_get_credit(
    client: Client, emu: IsendproEmulator, estimate: bool, flag: str, expected: int | None
) -> None:
    result = client("get_credit", with_sms_estimate=estimate)

    # POST with a form body: the key stays out of the URL (API-NOTES §6.3).
    assert_request(only_request(emu), "POST", "/credit", form={"keyid": KEY, "credit": flag})
    assert result.to_dict() == {"euros": 100.0, "sms_estimate": expected}


def test_hlr_lookup(client: Client, emu: IsendproEmulator) -> None:
    result = client("hlr_lookup", ["06 12 34 56 78", "+33756123456", MAGIC_UNASSIGNED])

    assert_request(
        only_request(emu), "POST", "/hlr",
        json={"keyid": KEY, "getHLR": "1", "num": ["0612345678", "0756123456", MAGIC_UNASSIGNED]},
    )  # fmt: skip
    assert [r.to_dict() for r in result] == [
        {"number": "0612345678", "operator": "SFR", "raw": {"tel": "0612345678", "operateur": "SFR"},
         "valid": True},
        {"number": "0756123456", "operator": "FREE", "raw": {"tel": "0756123456", "operateur": "FREE"},
         "valid": True},
        {"number": MAGIC_UNASSIGNED, "operator": None, "raw": {"tel": MAGIC_UNASSIGNED, "operateur": "?"},
         "valid": False},
    ]  # fmt: skip
    assert emu.sent == []


def test_count_message(client: Client, emu: IsendproEmulator) -> None:
    result = client("count_message", "0612345678", "Bonjour", sender="ACME")

    assert_request(
        only_request(emu), "POST", "/comptage",
        json={"keyid": KEY, "comptage": "1", "num": "0612345678", "sms": "Bonjour", "smslong": "999",
              "emetteur": "ACME"},
    )  # fmt: skip
    # 7 characters + the 12 of the STOP mention a custom sender brings.
    assert result.to_dict() == {"number": "0612345678", "characters": 19, "segments": 1}


def test_count_message_without_stop(client: Client, emu: IsendproEmulator) -> None:
    result = client("count_message", "0612345678", "Bonjour", sender="ACME", nostop=True)

    assert_request(
        only_request(emu), "POST", "/comptage",
        json={"keyid": KEY, "comptage": "1", "num": "0612345678", "sms": "Bonjour", "smslong": "999",
              "emetteur": "ACME", "nostop": "1"},
    )  # fmt: skip
    assert result.to_dict() == {"number": "0612345678", "characters": 7, "segments": 1}


# --------------------------------------------------------------------------------------------------
# Répertoires


def test_create_contact_list(client: Client, emu: IsendproEmulator) -> None:
    result = client("create_contact_list", "  Astreinte ")

    assert_request(
        only_request(emu), "POST", "/repertoire",
        json={"keyid": KEY, "repertoireEdit": "create", "repertoireNom": "Astreinte"},
    )  # fmt: skip
    assert result.to_dict() == {"list_id": "1001", "code": 0, "message": "Le repertoire a ete cree"}
    assert emu.repertoires == {"1001": []}


def test_add_to_contact_list(client: Client, emu: IsendproEmulator) -> None:
    list_id = create_list(emu, "Clients", [])
    before = len(emu.requests)

    result = client(
        "add_to_contact_list", int(list_id), ["0612345678", "07 56 12 34 56"],
        names=["Ann", "Bob"], custom_fields={"a": ["x", "y"], "Z": [1, 2]},
    )  # fmt: skip

    assert_request(
        only_request(emu, before), "PUT", "/repertoire",
        json={"keyid": KEY, "repertoireEdit": "add", "repertoireId": list_id,
              "num": ["0612345678", "0756123456"], "champ1": ["Ann", "Bob"], "champ2": ["x", "y"],
              "champ27": ["1", "2"]},
    )  # fmt: skip
    assert result.to_dict() == {
        "list_id": list_id,
        "recipients": [list_member("0612345678"), list_member("0756123456")],
    }
    assert emu.repertoires == {list_id: ["0612345678", "0756123456"]}


def test_remove_from_contact_list(client: Client, emu: IsendproEmulator) -> None:
    list_id = create_list(emu, "Clients", ["0612345678", "0756123456"])
    before = len(emu.requests)

    result = client("remove_from_contact_list", list_id, ["0756123456"])

    assert_request(
        only_request(emu, before), "PUT", "/repertoire",
        json={"keyid": KEY, "repertoireEdit": "del", "repertoireId": list_id, "num": ["0756123456"]},
    )  # fmt: skip
    assert result.to_dict() == {"list_id": list_id, "recipients": [list_member("0756123456")]}
    assert emu.repertoires == {list_id: ["0612345678"]}


# --------------------------------------------------------------------------------------------------
# Liste noire: POST with every field, keyid included, in the query string (the spec's choice)


def test_blacklist_add(client: Client, emu: IsendproEmulator) -> None:
    result = client("blacklist_add", "06 12 34 56 78")

    assert_request(
        only_request(emu), "POST", "/setlistenoire",
        query={"keyid": KEY, "setlisteNoire": "1", "num": "0612345678"},
    )  # fmt: skip
    assert result.to_dict() == {"number": "0612345678", "ok": True, "status": "OK"}
    assert emu.blacklist == {"0612345678"}


def test_blacklist_remove(client: Client, emu: IsendproEmulator) -> None:
    emu.reset(emu.config.replace(initial_blacklist=("0612345678",)))

    result = client("blacklist_remove", "+33612345678")

    assert_request(
        only_request(emu), "POST", "/dellistenoire",
        query={"keyid": KEY, "delListeNoire": "1", "num": "0612345678"},
    )  # fmt: skip
    assert result.to_dict() == {"number": "0612345678", "ok": True, "status": "OK"}
    assert emu.blacklist == frozenset()


def test_download_blacklist(client: Client, emu: IsendproEmulator, tmp_path: Path) -> None:
    emu.reset(emu.config.replace(initial_blacklist=("0612345678", "0756123456")))
    target = tmp_path / "liste_noire.zip"

    result = client("download_blacklist", target)

    assert_request(only_request(emu), "POST", "/getlistenoire", query={"keyid": KEY, "getListeNoire": "1"})
    assert result.to_dict() == {"path": str(target), "size": target.stat().st_size}
    assert [row["tel"] for row in iter_report_rows(target)] == ["0612345678", "0756123456"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["liste_noire.zip"]


# --------------------------------------------------------------------------------------------------
# Short links and sub-accounts


def test_create_short_link(client: Client, emu: IsendproEmulator) -> None:
    result = client("create_short_link", "https://example.com/offre?id=42")

    assert_request(
        only_request(emu), "POST", "/shortlink",
        json={"keyid": KEY, "shortlink": "https://example.com/offre?id=42"},
    )  # fmt: skip
    assert result.to_dict() == {"url": "ww.sms.ht/aaab", "code": 250, "message": "Le lien court a ete genere"}
    assert emu.shortlinks == {"ww.sms.ht/aaab": "https://example.com/offre?id=42"}


def test_create_sub_account(make_client: MakeClient, emu: IsendproEmulator) -> None:
    secrets: list[str] = []
    client = make_client(on_secret=secrets.append)

    result = client("create_sub_account", "agence06", "s3cret-pw")

    assert_request(
        only_request(emu), "POST", "/subaccount",
        json={"keyid": KEY, "subAccountEdit": "addAccount", "subAccountLogin": "agence06",
              "subAccountPassword": "s3cret-pw"},
    )  # fmt: skip
    assert result.to_dict() == {
        "account_id": "20150", "login": "agence06", "code": 230, "message": "Le sous compte a ete ajoute",
    }  # fmt: skip
    assert re.fullmatch(r"emulator-sub-[0-9a-f]{10}", result.api_key)
    assert secrets == ["s3cret-pw", result.api_key]  # both handed to the masking callback
    assert result.api_key not in repr(result)


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "fields", "check"),
    [
        (
            "set_sub_account_price", (0.045, "+33"), {},
            {"subAccountEdit": "setPrice", "subAccountPrice": "0.045", "subAccountCountryCode": "33"},
            {"price": "0.045", "country_code": "33"},
        ),
        (
            "add_sub_account_credit", (12.5,), {},
            {"subAccountEdit": "addCredit", "subAccountAddCredit": "12.5"},
            {"credit": 12.5},
        ),
        (
            "set_sub_account_restrictions", (), {"stop_mention": False, "quiet_hours": True},
            {"subAccountEdit": "setRestriction", "subAccountRestrictionStop": "0",
             "subAccountRestrictionTime": "1"},
            {"restriction_stop": "0", "restriction_time": "1"},
        ),
    ],
    ids=["set_price", "add_credit", "set_restrictions"],
)  # fmt: skip
def test_sub_account_edits(
    client: Client,
    emu: IsendproEmulator,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    fields: dict[str, str],
    check: dict[str, Any],
) -> None:
    sub_key = create_sub_account(emu)
    before = len(emu.requests)

    result = client(method, sub_key, *args, **kwargs)

    assert_request(
        only_request(emu, before), "PUT", "/subaccount",
        json={"keyid": KEY, "subAccountKeyId": sub_key, **fields},
    )  # fmt: skip
    assert result.to_dict() == {"account_id": "20150", "code": 0, "message": SUB_UPDATED}
    account = emu.subaccounts["agence06"]
    assert {name: account[name] for name in check} == check


def test_every_operation_is_covered_by_this_file() -> None:
    """The 18 client methods: a new one must get a test here (and so a request builder in endpoints)."""
    methods = {name for name, value in vars(IsendproClient).items() if getattr(value, "__doc__", None)
               and not name.startswith("_") and name not in {"execute", "close"}}  # fmt: skip
    source = Path(__file__).read_text()
    assert len(methods) == 18
    assert sorted(m for m in methods if f'"{m}"' not in source) == []


# --------------------------------------------------------------------------------------------------
# Downloads: atomic to a path, or streamed into a binary file object


def _send_two(client: Client) -> None:
    client("send_sms", "0612345678", "Un", sender="ACME", tracker="T1")
    client("send_sms_multi", ["0756123456", MAGIC_BLACKLISTED], "Deux")


def _without_dates(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row.pop("date"))
    return rows


EXPECTED_ROWS = [
    {"tel": "0612345678", "tracker": "T1", "statut": "0", "message_id": "00000000000001", "nb_sms": "1",
     "emetteur": "ACME"},
    {"tel": "0756123456", "tracker": "", "statut": "0", "message_id": "00000000000002", "nb_sms": "1",
     "emetteur": ""},
]  # fmt: skip


def test_campaign_report_to_a_path(client: Client, emu: IsendproEmulator, tmp_path: Path) -> None:
    _send_two(client)
    before = len(emu.requests)
    target = tmp_path / "reports" / "july.zip"  # the missing folder is created

    result = client("download_campaign_report", "2000-01-01", "2099-12-31 23:00", target)

    assert_request(
        only_request(emu, before), "GET", "/campagne",
        query={"keyid": KEY, "rapportCampagne": "1", "date_deb": "2000-01-01 00:00",
               "date_fin": "2099-12-31 23:00"},
    )  # fmt: skip
    assert result == Download(path=str(target), size=target.stat().st_size)
    assert target.read_bytes()[:4] == b"PK\x03\x04"
    assert _without_dates(list(iter_report_rows(target))) == EXPECTED_ROWS
    assert sorted(p.name for p in target.parent.iterdir()) == ["july.zip"]  # no temporary file left


def test_campaign_report_bounds_are_french_wall_time(client: Client, emu: IsendproEmulator) -> None:
    utc = dt.timezone.utc
    start = dt.datetime(2026, 1, 31, 22, 0, tzinfo=utc)  # 23:00 in Paris (winter)
    end = dt.datetime(2026, 7, 1, 6, 30, tzinfo=utc)  # 08:30 in Paris (summer)

    result = client("download_campaign_report", start, end, io.BytesIO())

    assert only_request(emu).query == {
        "keyid": KEY, "rapportCampagne": "1", "date_deb": "2026-01-31 23:00", "date_fin": "2026-07-01 08:30",
    }  # fmt: skip
    assert result.path is None


def test_campaign_report_to_a_file_object(client: Client, emu: IsendproEmulator, tmp_path: Path) -> None:
    _send_two(client)
    buffer = io.BytesIO()

    result = client("download_campaign_report", "2000-01-01", "2099-12-31", buffer)

    assert result.to_dict() == {"path": None, "size": len(buffer.getvalue())}
    buffer.seek(0)
    assert _without_dates(list(iter_report_rows(buffer))) == EXPECTED_ROWS

    with (tmp_path / "report.zip").open("wb") as handle:  # a real binary file works the same way
        assert client("download_campaign_report", "2000-01-01", "2099-12-31", handle).path is None
    assert _without_dates(list(iter_report_rows(tmp_path / "report.zip"))) == EXPECTED_ROWS


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("http_400", IsendproApiError),
        ("http_500", IsendproServerError),
        ("html", IsendproResponseError),
        ("no_etat", IsendproResponseError),
        ("reset", IsendproTransportError),
    ],
)
def test_a_failed_download_leaves_the_destination_untouched(
    client: Client, emu: IsendproEmulator, tmp_path: Path, fault: str, error: type[Exception]
) -> None:
    target = tmp_path / "report.zip"
    target.write_bytes(b"previous report")
    emu.inject(fault, "/campagne")

    with pytest.raises(error) as raised:
        client("download_campaign_report", "2026-01-01", "2026-02-01", target)

    assert type(raised.value) is error
    assert raised.value.message.startswith("getCampagne (GET /campagne): ")
    assert target.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.zip"]


def test_a_download_cut_mid_body_leaves_no_partial_file(
    make_client: MakeClient, truncating_server: TruncatingServer, tmp_path: Path
) -> None:
    client = make_client(base_url=truncating_server.base_url)
    target = tmp_path / "report.zip"

    with pytest.raises(IsendproTransportError) as raised:
        client("download_campaign_report", "2026-01-01", "2026-02-01", target)

    assert type(raised.value) is IsendproTransportError
    reason = {"sync": "ChunkedEncodingError", "async": "connection closed before the answer"}
    assert (
        raised.value.message == f"getCampagne (GET /campagne): connection lost ({reason[client.transport]})"
    )
    assert list(tmp_path.iterdir()) == []  # the 200 kB already written went to a temporary file, now gone
    assert truncating_server.hits == 1


# --------------------------------------------------------------------------------------------------
# The sync transport's own behaviour


def test_one_pooled_session_serves_every_call_and_close_releases_it(emu: IsendproEmulator) -> None:
    opened: list[int] = []

    class CountingSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            opened.append(len(self.adapters["http://"].poolmanager.pools))
            return super().request(*args, **kwargs)

    session = CountingSession()
    with IsendproClient(ClientConfig(api_key=KEY, base_url=emu.base_url), session=session) as client:
        for _ in range(3):
            client.get_credit()
        assert repr(client) == f"IsendproClient(base_url={emu.base_url!r})"
    assert opened == [0, 1, 1]  # one connection pool, created by the first call and reused
    assert len(session.adapters["http://"].poolmanager.pools) == 0  # closed with the client
    assert len(new_requests(emu, 0)) == 3


def test_every_call_has_both_timeouts(emu: IsendproEmulator) -> None:
    seen: list[Any] = []

    class RecordingSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            seen.append((kwargs["timeout"], kwargs["allow_redirects"]))
            return super().request(*args, **kwargs)

    config = ClientConfig(api_key=KEY, base_url=emu.base_url, connect_timeout=1.5, read_timeout=7)
    with IsendproClient(config, session=RecordingSession()) as client:
        client.get_credit()
        client.download_blacklist(io.BytesIO())
    assert seen == [((1.5, 7.0), False), ((1.5, 7.0), False)]
