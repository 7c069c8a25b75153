"""Every operation of the spec: the happy path, its state change, and what the real API would reject."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_isendpro.testing import IsendproEmulator

from .helpers import Api, entries, error, unzip

SENT = "Votre message a bien ete envoye"


# --- /sms -----------------------------------------------------------------------------------------------


def test_sms_json(api: Api) -> None:
    r = api.json(
        "/sms", {"num": "0612345678", "sms": "Bonjour!", "emetteur": "ISENDPRO", "tracker": "abc123"}
    )
    assert r.status_code == 200
    assert r.json() == {"etat": {"etat": [{"code": 0, "tel": "0612345678", "message": SENT, "smslong": "1"}]}}
    (sms,) = api.emu.sent
    assert (sms.tel, sms.text, sms.sender, sms.tracker, sms.segments, sms.sandbox) == (
        "0612345678",
        "Bonjour!",
        "ISENDPRO",
        "abc123",
        1,
        False,
    )
    assert api.emu.credit == pytest.approx(100.0 - 0.05)
    (req,) = api.emu.requests_to("/sms")
    assert req.method == "POST"
    assert req.body["keyid"] == api.key
    assert req.content_type == "application/json"


def test_sms_form_body_and_international_number(api: Api) -> None:
    r = api.form("/sms", {"num": "33601020304", "sms": "Salut"})
    # The docs' example answers a 33... number in national form.
    assert entries(r) == [{"code": 0, "tel": "0601020304", "message": SENT, "smslong": "1"}]
    (req,) = api.emu.requests
    assert req.body == {"keyid": api.key, "num": "33601020304", "sms": "Salut"}
    assert req.content_type == "application/x-www-form-urlencoded"


def test_sms_multipart_and_plus_prefix(api: Api) -> None:
    files = {"keyid": (None, api.key), "num": (None, "+33601020304"), "sms": (None, "Salut")}
    r = api.session.post(api.url("/sms"), files=files, timeout=5)
    assert entries(r)[0]["code"] == 0
    assert api.emu.sent[0].tel == "0601020304"


def test_sms_optional_fields_recorded(api: Api) -> None:
    body = {
        "num": "0612345678",
        "sms": "Rappel",
        "date_envoi": "2030-01-02 09:30",
        "gmt_zone": "Europe/Brussels",
        "nostop": "1",
        "emetteur": "Astreinte",  # lower case accepted and upper-cased by default
        "numAzur": "anything",  # ignored
        "smslong": "999",
    }
    assert api.json("/sms", body).status_code == 200
    (sms,) = api.emu.sent
    assert (sms.date_envoi, sms.gmt_zone, sms.nostop, sms.sender) == (
        "2030-01-02 09:30",
        "Europe/Brussels",
        True,
        "ASTREINTE",
    )


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ({"sms": "x"}, "4", "'num'"),
        ({"num": "0612345678"}, "4", "'sms'"),
        ({"num": "0612345678", "sms": "x", "gmt_zone": "Europe/Paris"}, "5", "'gmt_zone'"),
        ({"num": ["0612345678"], "sms": "x"}, "5", "'num' must be a string"),
        ({"num": "0612345678", "sms": "x", "emetteur": "123456"}, "6", "'emetteur'"),
        ({"num": "0612345678", "sms": "x", "emetteur": "ABC"}, "6", "'emetteur'"),
        ({"num": "0612345678", "sms": "x", "emetteur": "TOO LONG NAME"}, "6", "'emetteur'"),
        ({"num": "0612345678", "sms": "x", "date_envoi": "2030-01-02T09:30"}, "7", "'date_envoi'"),
        ({"num": "0612345678", "sms": "x", "date_envoi": "2030-02-30 09:30"}, "7", "'date_envoi'"),
        ({"num": "0612345678", "sms": "x", "tracker": "has-dash"}, "20", "'tracker'"),
        ({"num": "0612345678", "sms": "x", "tracker": "a" * 50}, "20", "'tracker'"),
        ({"num": "0612345678", "sms": "x", "smslong": "abc"}, "5", "'smslong'"),
        ({"num": "0612345678", "sms": "a" * 919}, "8", "7 SMS parts"),
        ({"num": "0612345678", "sms": "a" * 161, "smslong": "1"}, "9", "'smslong' is 1"),
        ({"num": "0612345678", "sms": "Bonjour l\u2019équipe"}, "12", "\u2019"),
        ({"num": "0612345678", "sms": "bad \x1b escape"}, "5", "'sms'"),
    ],
)
def test_sms_rejections(api: Api, body: dict[str, Any], code: str, needle: str) -> None:
    got_code, message = error(api.json("/sms", body))
    assert got_code == code
    assert needle in message
    assert api.emu.sent == []
    assert api.emu.credit == 100.0


def test_sms_wrong_and_missing_key(api: Api) -> None:
    r = api.session.post(
        api.url("/sms"), json={"keyid": "not-a-key", "num": "0612345678", "sms": "x"}, timeout=5
    )
    assert error(r) == ("3", "Your credentials are incorrect")
    r = api.session.post(api.url("/sms"), json={"num": "0612345678", "sms": "x"}, timeout=5)
    code, message = error(r)
    assert code == "4"
    assert "'keyid'" in message


def test_invalid_json_body(api: Api) -> None:
    r = api.session.post(
        api.url("/sms"), data=b'{"keyid": ', headers={"Content-Type": "application/json"}, timeout=5
    )
    assert error(r)[0] == "22"


def test_unknown_path_and_wrong_method(api: Api) -> None:
    assert api.session.post(api.url("/nope"), json={}, timeout=5).status_code == 404
    assert api.session.get(api.url("/sms"), timeout=5).status_code == 405
    assert api.session.post(api.emu.root_url + "/sms", json={}, timeout=5).status_code == 404


def test_ucs2_abroad_is_accepted(api: Api) -> None:
    r = api.json("/sms", {"num": "447700900123", "sms": "Привет", "ucs2": "1"})
    assert entries(r)[0]["code"] == 0
    (sms,) = api.emu.sent
    assert (sms.encoding, sms.ucs2, sms.tel) == ("UCS-2", True, "447700900123")


def test_ucs2_overseas_is_accepted(api: Api) -> None:
    r = api.json("/smsmulti", {"num": ["262692123456", "0696201234"], "sms": ["Привет"], "ucs2": "1"})
    assert [e["code"] for e in entries(r)] == [0, 0]
    assert [(s.tel, s.encoding) for s in api.emu.sent] == [("262692123456", "UCS-2"), ("0696201234", "UCS-2")]


@pytest.mark.parametrize("num", ["0612345678", "33612345678"])
def test_ucs2_to_metropolitan_france_is_refused(api: Api, num: str) -> None:
    r = api.json("/smsmulti", {"num": ["447700900123", num], "sms": ["Bonjour"], "ucs2": "1"})
    assert error(r) == (
        "12",
        "Non-GSM text to a metropolitan French number requires transliteration: 'ucs2' is set for the "
        f"French number {num!r}: UCS-2 is only for numbers outside metropolitan France",
    )
    assert api.emu.sent == []
    api.emu.configure(reject_non_gsm_to_france=False)
    assert [e["code"] for e in entries(api.json("/sms", {"num": num, "sms": "x", "ucs2": "1"}))] == [0]


# --- /smsmulti ------------------------------------------------------------------------------------------


def test_smsmulti_mixed_results(api: Api, isendpro_emulator: IsendproEmulator) -> None:
    body = {
        "num": ["0612345678", "0600000011", "0600000021", "06 12", "33712345678"],
        "sms": ["Hello"],
        "tracker": ["t1", "t2", "t3", "t4", "t5"],
    }
    r = api.json("/smsmulti", body)
    assert r.status_code == 200
    got = [(e["code"], e["tel"]) for e in entries(r)]
    assert got == [
        (0, "0612345678"),
        (11, "0600000011"),
        (21, "0600000021"),
        (21, "06 12"),
        (0, "0712345678"),
    ]
    assert [s.tracker for s in isendpro_emulator.sent] == ["t1", "t5"]
    assert [s.batch_index for s in isendpro_emulator.sent] == [0, 4]
    assert isendpro_emulator.credit == pytest.approx(100.0 - 2 * 0.05)
    assert isendpro_emulator.stats["rejected_recipients"] == 3


def test_smsmulti_per_number_texts_and_string_sms(api: Api) -> None:
    r = api.json("/smsmulti", {"num": ["0612345678", "0712345678"], "sms": ["a", "b" * 200]})
    assert [e["smslong"] for e in entries(r)] == ["1", "2"]
    assert [s.text[:1] for s in api.emu.sent] == ["a", "b"]
    r = api.json("/smsmulti", {"num": ["0612345678"], "sms": "a plain string"})
    assert entries(r)[0]["code"] == 0


def test_smsmulti_form_arrays(api: Api) -> None:
    r = api.session.post(
        api.url("/smsmulti"),
        data=[("keyid", api.key), ("num[]", "0612345678"), ("num[]", "0712345678"), ("sms[]", "Hi")],
        timeout=5,
    )
    assert [e["code"] for e in entries(r)] == [0, 0]


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ({"num": ["0612345678", "0712345678"], "sms": ["a", "b", "c"]}, "18", "'sms'"),
        ({"num": ["0612345678", "0712345678"], "sms": ["a"], "tracker": ["t1"]}, "18", "'tracker'"),
        ({"num": "0612345678", "sms": ["a"]}, "5", "'num' must be an array"),
        ({"sms": ["a"]}, "4", "'num'"),
        ({"num": ["0612345678"], "sms": ["a"], "repertoireId": "999"}, "16", "'repertoireId'"),
        ({"num": ["0612345678"], "sms": ["a"], "gmt_zone": "Europe/Paris"}, "5", "'gmt_zone'"),
    ],
)
def test_smsmulti_rejections(api: Api, body: dict[str, Any], code: str, needle: str) -> None:
    got_code, message = error(api.json("/smsmulti", body))
    assert got_code == code
    assert needle in message
    assert api.emu.sent == []


def test_smsmulti_too_many_recipients(api: Api) -> None:
    api.emu.configure(max_recipients=2)
    code, message = error(api.json("/smsmulti", {"num": ["0612345678"] * 3, "sms": ["a"]}))
    assert code == "13"
    assert "at most 2" in message


# --- /credit --------------------------------------------------------------------------------------------


def test_credit_get_query_and_post_form(api: Api) -> None:
    r = api.session.get(api.url("/credit"), params={"keyid": api.key, "credit": "1"}, timeout=5)
    assert r.json() == {"etat": {"credit": "100.0"}}
    r = api.form("/credit", {"credit": "2"})
    assert r.json() == {"etat": {"credit": "100.0", "quantite": "2000"}}
    api.json("/sms", {"num": "0612345678", "sms": "x" * 200})
    assert api.form("/credit", {"credit": "2"}).json() == {"etat": {"credit": "99.9", "quantite": "1998"}}


def test_credit_rejections(api: Api) -> None:
    code, message = error(api.form("/credit", {"credit": "3"}))
    assert (code, "'credit'" in message) == ("5", True)
    assert error(api.form("/credit", {}))[0] == "4"
    r = api.session.post(api.url("/credit"), data={"keyid": "nope", "credit": "1"}, timeout=5)
    assert error(r) == ("3", "Your credentials are incorrect")


# --- /hlr -----------------------------------------------------------------------------------------------


def test_hlr(api: Api) -> None:
    r = api.json("/hlr", {"getHLR": "1", "num": ["0680010203", "33612345678", "06123456789", "0600000021"]})
    assert entries(r) == [
        {"tel": "0680010203", "operateur": "ORAN"},
        {"tel": "0612345678", "operateur": "SFR"},
        {"tel": "06123456789", "operateur": "?"},
        {"tel": "0600000021", "operateur": "?"},
    ]
    assert api.emu.stats["hlr_lookups"] == 4


def test_hlr_operator_table_is_configurable(api: Api) -> None:
    api.emu.configure(hlr_operators={"0612": "BOUY"}, hlr_unknown_marker="INCONNU")
    r = api.json("/hlr", {"getHLR": "1", "num": ["0612345678", "0680010203"]})
    assert [e["operateur"] for e in entries(r)] == ["BOUY", "INCONNU"]


@pytest.mark.parametrize(
    ("body", "code"),
    [({"num": ["0612345678"]}, "4"), ({"getHLR": "2", "num": ["0612345678"]}, "5"), ({"getHLR": "1"}, "4")],
)
def test_hlr_rejections(api: Api, body: dict[str, Any], code: str) -> None:
    assert error(api.json("/hlr", body))[0] == code


# --- /comptage ------------------------------------------------------------------------------------------


def test_comptage_counts_stop_suffix(api: Api) -> None:
    body = {"comptage": "1", "num": "0612345678", "sms": "a" * 149, "emetteur": "ISENDPRO"}
    assert entries(api.json("/comptage", body)) == [
        {"tel": "0612345678", "nb_caractere": "161", "nb_sms": "2"}
    ]
    body["nostop"] = "1"
    assert entries(api.json("/comptage", body)) == [
        {"tel": "0612345678", "nb_caractere": "149", "nb_sms": "1"}
    ]
    assert api.emu.sent == []
    assert api.emu.credit == 100.0


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        ({"smslong": "5"}, "5", "'smslong'"),
        ({"comptage": "0"}, "5", "'comptage'"),
        ({"comptage": None}, "4", "'comptage'"),
        ({"sms": None}, "4", "'sms'"),
        ({"gmt_zone": "Europe/Paris"}, "5", "'gmt_zone'"),
    ],
)
def test_comptage_rejections(api: Api, change: dict[str, Any], code: str, needle: str) -> None:
    body: dict[str, Any] = {"comptage": "1", "num": "0612345678", "sms": "x", **change}
    body = {k: v for k, v in body.items() if v is not None}
    got_code, message = error(api.json("/comptage", body))
    assert (got_code, needle in message) == (code, True)


# --- /campagne ------------------------------------------------------------------------------------------


def test_campagne_zip_csv(api: Api) -> None:
    api.json("/sms", {"num": "0612345678", "sms": "x", "tracker": "trk1", "emetteur": "ISENDPRO"})
    api.json("/sms", {"num": "0612345679", "sms": "y" * 200, "date_envoi": "2031-05-01 10:00"})
    api.json("/sms", {"num": "0612345670", "sms": "sandboxed", "sandbox": "1"})
    params = {"rapportCampagne": "1", "date_deb": "2000-01-01 00:00", "date_fin": "2099-12-31 23:59"}
    r = api.query("/campagne", params, method="GET")
    assert r.headers["Content-Type"] == "application/zip"
    name, text = unzip(r)
    assert name.endswith(".csv")
    lines = text.splitlines()
    assert lines[0] == "date;tel;tracker;statut;message_id;nb_sms;emetteur"
    rows = [line.split(";") for line in lines[1:]]
    assert [(row[1], row[2], row[5], row[6]) for row in rows] == [
        ("0612345678", "trk1", "1", "ISENDPRO"),
        ("0612345679", "", "2", ""),
    ]
    assert rows[1][0] == "2031-05-01 10:00:00"
    # Date range filter: only the scheduled one.
    params = {"rapportCampagne": "1", "date_deb": "2031-01-01 00:00", "date_fin": "2031-12-31 23:59"}
    _, text = unzip(api.query("/campagne", params, method="GET"))
    assert len(text.splitlines()) == 2


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"rapportCampagne": "1", "date_deb": "2020-01-01 00:00"}, "4"),
        ({"rapportCampagne": "2", "date_deb": "2020-01-01 00:00", "date_fin": "2020-01-02 00:00"}, "5"),
        ({"rapportCampagne": "1", "date_deb": "2020-01-01", "date_fin": "2020-01-02 00:00"}, "7"),
        ({"rapportCampagne": "1", "date_deb": "2020-01-03 00:00", "date_fin": "2020-01-02 00:00"}, "7"),
    ],
)
def test_campagne_rejections(api: Api, params: dict[str, str], code: str) -> None:
    assert error(api.query("/campagne", params, method="GET"))[0] == code


# --- /repertoire ----------------------------------------------------------------------------------------


def test_repertoire_create_add_del_and_send(api: Api) -> None:
    r = api.json("/repertoire", {"repertoireEdit": "create", "repertoireNom": "Astreinte"})
    (entry,) = entries(r)
    assert entry["code"] == "0"
    rep_id = entry["repertoireId"]
    r = api.json(
        "/repertoire",
        {
            "repertoireEdit": "add",
            "repertoireId": rep_id,
            "num": ["0612345678", "0712345678", "x"],
            "champ1": ["A", "B", "C"],
        },
        method="PUT",
    )
    assert [(e["code"], e["tel"], e["repertoireId"]) for e in entries(r)] == [
        ("0", "0612345678", rep_id),
        ("0", "0712345678", rep_id),
        ("21", "x", rep_id),
    ]
    assert api.emu.repertoires == {rep_id: ["0612345678", "0712345678"]}
    r = api.json(
        "/repertoire", {"repertoireEdit": "del", "repertoireId": rep_id, "num": ["0712345678"]}, method="PUT"
    )
    assert entries(r)[0]["code"] == "0"
    assert api.emu.repertoires == {rep_id: ["0612345678"]}
    # /smsmulti with a répertoire and an empty num sends to its members.
    r = api.json("/smsmulti", {"repertoireId": rep_id, "num": [], "sms": ["Hello team"]})
    assert [e["tel"] for e in entries(r)] == ["0612345678"]
    assert [s.tel for s in api.emu.sent] == ["0612345678"]


@pytest.mark.parametrize(
    ("method", "body", "code"),
    [
        ("POST", {"repertoireEdit": "create"}, "4"),
        ("POST", {"repertoireEdit": "add", "repertoireNom": "x"}, "5"),
        ("PUT", {"repertoireEdit": "add", "repertoireId": "1"}, "4"),
        ("PUT", {"repertoireEdit": "create", "repertoireId": "1", "num": ["0612345678"]}, "5"),
        ("PUT", {"repertoireEdit": "add", "repertoireId": "nope", "num": ["0612345678"]}, "16"),
        ("PUT", {"repertoireEdit": "add", "repertoireId": "1", "num": ["0612345678"], "champ1": []}, "18"),
    ],
)
def test_repertoire_rejections(api: Api, method: str, body: dict[str, Any], code: str) -> None:
    assert error(api.json("/repertoire", body, method=method))[0] == code


# --- liste noire ----------------------------------------------------------------------------------------


def test_listenoire_add_send_download_delete(api: Api) -> None:
    r = api.query("/setlistenoire", {"setlisteNoire": "1", "num": "33612345678"})
    assert r.json() == {"etat": {"etat": [{"tel": "0612345678", "listeNoire": "OK"}]}}
    assert api.emu.blacklist == {"0612345678"}
    r = api.json("/smsmulti", {"num": ["0612345678", "0712345678"], "sms": ["promo"]})
    assert [e["code"] for e in entries(r)] == [11, 0]
    name, text = unzip(api.query("/getlistenoire", {"getListeNoire": "1"}))
    assert name.endswith(".csv")
    assert text.splitlines()[0] == "tel;date"
    assert text.splitlines()[1].startswith("0612345678;")
    r = api.query("/dellistenoire", {"delListeNoire": "1", "num": "0612345678"})
    assert entries(r) == [{"tel": "0612345678", "listeNoire": "OK"}]
    assert api.emu.blacklist == frozenset()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/setlistenoire", {"setListeNoire": "1", "num": "0612345678"}),
        ("/setlistenoire", {"SetlisteNoire": "1", "num": "0612345678"}),
        ("/dellistenoire", {"dellisteNoire": "1", "num": "0612345678"}),  # the spec 1.0.0 spelling
        ("/getlistenoire", {"getlisteNoire": "1"}),
    ],
)
def test_listenoire_casing_is_strict(api: Api, path: str, params: dict[str, str]) -> None:
    code, message = error(api.query(path, params))
    assert code == "4"
    expected = {
        "/setlistenoire": "setlisteNoire",
        "/dellistenoire": "delListeNoire",
        "/getlistenoire": "getListeNoire",
    }
    assert f"'{expected[path]}'" in message


def test_listenoire_lenient_casing_switch(api: Api) -> None:
    api.emu.configure(strict_listenoire_casing=False)
    r = api.query("/setlistenoire", {"SETLISTENOIRE": "1", "num": "0612345678"})
    assert entries(r) == [{"tel": "0612345678", "listeNoire": "OK"}]


def test_listenoire_query_only_by_default(api: Api) -> None:
    assert error(api.form("/setlistenoire", {"setlisteNoire": "1", "num": "0612345678"}))[0] == "4"
    api.emu.configure(listenoire_form_body=True)
    assert (
        entries(api.form("/setlistenoire", {"setlisteNoire": "1", "num": "0612345678"}))[0]["listeNoire"]
        == "OK"
    )


def test_listenoire_rejections(api: Api) -> None:
    assert error(api.query("/setlistenoire", {"setlisteNoire": "2", "num": "0612345678"}))[0] == "5"
    assert error(api.query("/setlistenoire", {"setlisteNoire": "1", "num": "not a number"}))[0] == "21"
    r = api.session.post(api.url("/getlistenoire"), params={"keyid": "nope", "getListeNoire": "1"}, timeout=5)
    assert error(r)[0] == "3"


# --- /shortlink -----------------------------------------------------------------------------------------


def test_shortlink(api: Api) -> None:
    (entry,) = entries(api.json("/shortlink", {"shortlink": "https://example.org/a/long/path"}))
    assert entry["code"] == 250
    assert entry["message"] == "Le lien court a ete genere"
    assert entry["shortlink"].startswith("ww.sms.ht/")
    assert api.emu.shortlinks == {entry["shortlink"]: "https://example.org/a/long/path"}
    assert error(api.json("/shortlink", {}))[0] == "4"
    assert error(api.json("/shortlink", {"shortlink": "not a url"}))[0] == "5"


# --- /subaccount ----------------------------------------------------------------------------------------


def _create_subaccount(api: Api, login: str = "agence06") -> dict[str, Any]:
    body = {"subAccountEdit": "addAccount", "subAccountLogin": login, "subAccountPassword": "pw-fake"}
    (entry,) = entries(api.json("/subaccount", body))
    return entry


def test_subaccount_create_then_use_its_key(api: Api) -> None:
    entry = _create_subaccount(api)
    assert entry["code"] == 230
    assert entry["message"] == "Le sous compte a ete ajoute"
    assert entry["subAccountLogin"] == "agence06"
    sub_key = entry["subAccountKeyId"]
    assert sub_key.startswith("emulator-sub-")
    # The new key works as a keyid, with its own (empty) credit.
    r = api.session.post(api.url("/credit"), data={"keyid": sub_key, "credit": "1"}, timeout=5)
    assert r.json() == {"etat": {"credit": "0.0"}}
    r = api.session.post(api.url("/sms"), json={"keyid": sub_key, "num": "0612345678", "sms": "x"}, timeout=5)
    assert error(r)[0] == "10"
    r = api.json(
        "/subaccount",
        {"subAccountEdit": "addCredit", "subAccountKeyId": sub_key, "subAccountAddCredit": "2.5"},
        method="PUT",
    )
    (edit,) = entries(r)
    assert edit == {
        "code": "0",
        "message": "Le sous compte a ete modifie",
        "subAccountId": entry["subAccountId"],
        "subAccountKeyid": sub_key,
    }
    r = api.session.post(api.url("/sms"), json={"keyid": sub_key, "num": "0612345678", "sms": "x"}, timeout=5)
    assert entries(r)[0]["code"] == 0
    assert api.emu.sent[0].account == "agence06"
    assert api.emu.subaccounts["agence06"]["credit"] == pytest.approx(2.45)
    assert api.emu.credit == 100.0


def test_subaccount_edit_actions(api: Api) -> None:
    key = _create_subaccount(api)["subAccountKeyId"]
    body = {
        "subAccountEdit": "setPrice",
        "subAccountKeyId": key,
        "subAccountPrice": "0.04",
        "subAccountCountryCode": "FR",
    }
    assert entries(api.json("/subaccount", body, method="PUT"))[0]["code"] == "0"
    body = {
        "subAccountEdit": "setRestriction",
        "subAccountKeyId": key,
        "subAccountRestrictionStop": "0",
        "subAccountRestrictionTime": "0",
    }
    assert entries(api.json("/subaccount", body, method="PUT"))[0]["code"] == "0"
    info = api.emu.subaccounts["agence06"]
    assert (info["price"], info["country_code"], info["restriction_stop"]) == ("0.04", "FR", "0")


@pytest.mark.parametrize(
    ("method", "body", "code"),
    [
        ("POST", {"subAccountEdit": "addAccount", "subAccountLogin": "x"}, "4"),
        ("POST", {"subAccountEdit": "setPrice", "subAccountLogin": "x", "subAccountPassword": "y"}, "5"),
        ("PUT", {"subAccountEdit": "removeAccount"}, "5"),
        (
            "PUT",
            {
                "subAccountEdit": "addCredit",
                "subAccountKeyId": "emulator-sub-none",
                "subAccountAddCredit": "1",
            },
            "17",
        ),
        ("PUT", {"subAccountEdit": "addCredit", "subAccountKeyId": "emulator-sub-none"}, "4"),
        (
            "PUT",
            {
                "subAccountEdit": "setRestriction",
                "subAccountKeyId": "k",
                "subAccountRestrictionStop": "2",
                "subAccountRestrictionTime": "0",
            },
            "5",
        ),
    ],
)
def test_subaccount_rejections(api: Api, method: str, body: dict[str, Any], code: str) -> None:
    assert error(api.json("/subaccount", body, method=method))[0] == code


def test_subaccount_duplicate_login_and_sub_key_cannot_manage(api: Api) -> None:
    key = _create_subaccount(api)["subAccountKeyId"]
    body = {"subAccountEdit": "addAccount", "subAccountLogin": "agence06", "subAccountPassword": "pw"}
    assert error(api.json("/subaccount", body))[0] == "23"
    body = {
        "keyid": key,
        "subAccountEdit": "addAccount",
        "subAccountLogin": "other",
        "subAccountPassword": "pw",
    }
    assert error(api.session.post(api.url("/subaccount"), json=body, timeout=5))[0] == "3"


# --- every operation refuses a wrong key -----------------------------------------------------------------

_EVERY_OPERATION: list[tuple[str, str, str, dict[str, Any]]] = [
    ("POST", "/sms", "json", {"num": "0612345678", "sms": "x"}),
    ("POST", "/smsmulti", "json", {"num": ["0612345678"], "sms": ["x"]}),
    ("GET", "/credit", "query", {"credit": "1"}),
    ("POST", "/hlr", "json", {"getHLR": "1", "num": ["0612345678"]}),
    ("POST", "/comptage", "json", {"comptage": "1", "num": "0612345678", "sms": "x"}),
    (
        "GET",
        "/campagne",
        "query",
        {"rapportCampagne": "1", "date_deb": "2020-01-01 00:00", "date_fin": "2020-01-02 00:00"},
    ),
    ("POST", "/repertoire", "json", {"repertoireEdit": "create", "repertoireNom": "x"}),
    ("PUT", "/repertoire", "json", {"repertoireEdit": "add", "repertoireId": "1", "num": ["0612345678"]}),
    ("POST", "/setlistenoire", "query", {"setlisteNoire": "1", "num": "0612345678"}),
    ("POST", "/dellistenoire", "query", {"delListeNoire": "1", "num": "0612345678"}),
    ("POST", "/getlistenoire", "query", {"getListeNoire": "1"}),
    ("POST", "/shortlink", "json", {"shortlink": "https://example.org/x"}),
    (
        "POST",
        "/subaccount",
        "json",
        {"subAccountEdit": "addAccount", "subAccountLogin": "a", "subAccountPassword": "b"},
    ),
    (
        "PUT",
        "/subaccount",
        "json",
        {"subAccountEdit": "addCredit", "subAccountKeyId": "k", "subAccountAddCredit": "1"},
    ),
]


def _call(api: Api, method: str, path: str, where: str, fields: dict[str, Any]) -> requests.Response:
    if where == "json":
        return api.session.request(method, api.url(path), json=fields, timeout=5)
    return api.session.request(method, api.url(path), params=fields, timeout=5)


@pytest.mark.parametrize(("method", "path", "where", "fields"), _EVERY_OPERATION, ids=lambda v: str(v)[:20])
def test_every_operation_rejects_a_wrong_key(
    api: Api, method: str, path: str, where: str, fields: dict[str, Any]
) -> None:
    r = _call(api, method, path, where, {"keyid": "emulator-wrong-key", **fields})
    assert error(r) == ("3", "Your credentials are incorrect")
    r = _call(api, method, path, where, fields)
    assert error(r)[0] == "4"


def test_every_spec_operation_is_covered() -> None:
    from airflow_provider_isendpro.testing.spec import operations

    assert set(operations()) == {(m, p) for m, p, _, _ in _EVERY_OPERATION}
