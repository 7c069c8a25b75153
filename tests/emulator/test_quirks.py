"""Each API-NOTES §11 switch changes the output the way its docstring says."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_isendpro.testing import EmulatorConfig

from .helpers import Api, entries, error

SMS = {"num": "0612345678", "sms": "Bonjour"}


def test_defaults_match_the_notes() -> None:
    config = EmulatorConfig()
    assert (config.credit, config.price_per_segment) == (100.0, 0.05)
    assert (config.envelope, config.code_style, config.request_error_status) == ("list", "spec", 400)
    assert config.accept_get_credit and config.strict_listenoire_casing and not config.listenoire_form_body
    assert (
        config.rate_limit_per_second is None
        and not config.enforce_quiet_hours
        and not config.legacy_endpoints
    )
    assert config.latency == 0.0 and config.hlr_unknown_marker == "?"
    assert config.error_codes["bad_credentials"] == (3, "Your credentials are incorrect")
    assert config.error_codes["repertoire_created"][0] == 0


def test_envelope_object_and_flat(api: Api) -> None:
    api.emu.configure(envelope="object")
    body = api.json("/sms", SMS).json()
    assert isinstance(body["etat"]["etat"], dict)
    assert body["etat"]["etat"]["code"] == 0
    # Several entries stay a list.
    body = api.json("/smsmulti", {"num": ["0612345678", "0712345678"], "sms": ["x"]}).json()
    assert isinstance(body["etat"]["etat"], list)
    api.emu.configure(envelope="flat")
    body = api.json("/hlr", {"getHLR": "1", "num": ["0680010203"]}).json()
    assert body == {"etat": {"tel": "0680010203", "operateur": "ORAN"}}


def test_error_envelope_switch(api: Api) -> None:
    api.emu.configure(error_envelope="object")
    body = api.json("/sms", {"num": "0612345678"}).json()
    assert body["etat"]["etat"]["code"] == "4"


def test_code_style_switches(api: Api) -> None:
    api.emu.configure(code_style="str")
    assert entries(api.json("/sms", SMS))[0]["code"] == "0"
    assert entries(api.json("/shortlink", {"shortlink": "https://example.org/x"}))[0]["code"] == "250"
    api.emu.configure(code_style="int")
    assert (
        entries(api.json("/repertoire", {"repertoireEdit": "create", "repertoireNom": "x"}))[0]["code"] == 0
    )
    body = api.json("/sms", {"num": "0612345678"}).json()
    assert body["etat"]["etat"][0]["code"] == 4


def test_request_errors_as_http_200(api: Api) -> None:
    api.emu.configure(request_error_status=200)
    r = api.session.post(api.url("/sms"), json={"keyid": "wrong", **SMS}, timeout=5)
    assert error(r, status=200) == ("3", "Your credentials are incorrect")


def test_get_credit_can_be_refused(api: Api) -> None:
    api.emu.configure(accept_get_credit=False)
    assert (
        api.session.get(api.url("/credit"), params={"keyid": api.key, "credit": "1"}, timeout=5).status_code
        == 405
    )
    assert api.form("/credit", {"credit": "1"}).status_code == 200


def test_credit_as_number(api: Api) -> None:
    api.emu.configure(credit_as_number=True)
    assert api.form("/credit", {"credit": "1"}).json() == {"etat": {"credit": 100.0}}


def test_echo_national_tel_switch(api: Api) -> None:
    api.emu.configure(echo_national_tel=False)
    assert entries(api.json("/sms", {"num": "33612345678", "sms": "x"}))[0]["tel"] == "33612345678"


def test_plus_prefix_switch(api: Api) -> None:
    api.emu.configure(accept_plus_prefix=False)
    assert entries(api.json("/sms", {"num": "+33612345678", "sms": "x"}))[0]["code"] == 21


def test_smsmulti_leniencies_can_be_turned_off(api: Api) -> None:
    api.emu.configure(smsmulti_sms_as_string=False)
    assert error(api.json("/smsmulti", {"num": ["0612345678"], "sms": "x"}))[0] == "5"


def _list_with(api: Api, number: str) -> str:
    rep = entries(api.json("/repertoire", {"repertoireEdit": "create", "repertoireNom": "x"}))[0]
    api.json("/repertoire", {"repertoireEdit": "add", "repertoireId": rep["repertoireId"], "num": [number]},
             method="PUT")  # fmt: skip
    return str(rep["repertoireId"])


def test_repertoire_send_without_num_follows_the_spec_by_default(api: Api) -> None:
    rep = _list_with(api, "0612345678")
    assert error(api.json("/smsmulti", {"repertoireId": rep, "sms": ["x"]})) == (
        "4",
        "Missing required field: 'num' (POST /smsmulti): the spec requires it with 'repertoireId' too; "
        'send "num": [] (the emulator accepts its omission with smsmulti_repertoire_without_num=true)',
    )
    assert api.emu.sent == []
    # An empty array is the field present, with no extra recipient: the list is sent.
    sent = entries(api.json("/smsmulti", {"repertoireId": rep, "num": [], "sms": ["x"]}))
    assert [(e["code"], e["tel"]) for e in sent] == [(0, "0612345678")]


def test_repertoire_send_without_num_accepted_by_the_lenient_switch(api: Api) -> None:
    api.emu.configure(smsmulti_repertoire_without_num=True)
    rep = _list_with(api, "0612345678")
    sent = entries(api.json("/smsmulti", {"repertoireId": rep, "sms": ["x"]}))
    assert [(e["code"], e["tel"]) for e in sent] == [(0, "0612345678")]


def test_smsmulti_without_list_still_needs_a_recipient(api: Api) -> None:
    assert error(api.json("/smsmulti", {"num": [], "sms": ["x"]}))[0] == "4"


def test_lowercase_sender_switch(api: Api) -> None:
    assert api.json("/sms", {**SMS, "emetteur": "Shop"}).status_code == 200
    api.emu.configure(accept_lowercase_sender=False)
    assert error(api.json("/sms", {**SMS, "emetteur": "Shop"}))[0] == "6"


def test_stop_suffix_149_reading(api: Api) -> None:
    body = {"num": "0612345678", "sms": "a" * 149, "emetteur": "ISENDPRO"}
    assert entries(api.json("/sms", body))[0]["smslong"] == "2"
    api.emu.configure(stop_suffix_length=11)
    assert entries(api.json("/sms", body))[0]["smslong"] == "1"


def test_non_gsm_switch(api: Api) -> None:
    api.emu.configure(reject_non_gsm_to_france=False)
    r = api.json("/sms", {"num": "0612345678", "sms": "Ça coûte 5 €"})
    assert entries(r)[0]["code"] == 0
    assert api.emu.sent[0].encoding == "UCS-2"


def test_require_smslong_for_long(api: Api) -> None:
    api.emu.configure(require_smslong_for_long=True)
    assert error(api.json("/sms", {"num": "0612345678", "sms": "a" * 161}))[0] == "9"
    assert api.json("/sms", {"num": "0612345678", "sms": "a" * 161, "smslong": "999"}).status_code == 200


def test_strict_types_switch(api: Api) -> None:
    body = {"num": "0612345678", "sms": "x", "smslong": 2}
    assert error(api.json("/sms", body))[0] == "5"
    api.emu.configure(strict_types=False)
    assert api.json("/sms", body).status_code == 200


def test_custom_error_codes(api: Api) -> None:
    api.emu.configure(error_codes={"bad_credentials": (42, "Cle API invalide")})
    r = api.session.post(api.url("/sms"), json={"keyid": "wrong", **SMS}, timeout=5)
    assert error(r) == ("42", "Cle API invalide")
    # The rest of the table keeps its defaults.
    assert error(api.json("/sms", {"num": "0612345678"}))[0] == "4"


def test_rate_limit(api: Api) -> None:
    api.emu.configure(rate_limit_per_second=1, retry_after=3)
    statuses = [api.form("/credit", {"credit": "1"}) for _ in range(3)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited
    assert limited[0].headers["Retry-After"] == "3"
    assert error(limited[0], status=429)[0] == "14"


def test_quiet_hours(api: Api) -> None:
    paris = ZoneInfo("Europe/Paris")
    api.emu.configure(enforce_quiet_hours=True)
    api.emu.clock = lambda: datetime(2030, 3, 4, 22, 15, tzinfo=paris)
    assert error(api.json("/sms", SMS))[0] == "15"
    # Scheduled for the morning: accepted.
    assert api.json("/sms", {**SMS, "date_envoi": "2030-03-05 09:00"}).status_code == 200
    api.emu.clock = lambda: datetime(2030, 3, 4, 10, 0, tzinfo=paris)
    assert api.json("/sms", SMS).status_code == 200


def test_legacy_endpoints_are_off_by_default(api: Api) -> None:
    assert api.json("/qualification", {"getOperateur": "1", "num": ["0612345678"]}).status_code == 404
    api.emu.configure(legacy_endpoints=True)
    api.query("/setlistenoire", {"setlisteNoire": "1", "num": "0712345678"})
    r = api.json("/qualification", {"getOperateur": "1", "num": ["0612345678", "0712345678", "12"]})
    assert [e["operateur"] for e in entries(r)] == ["SFR", "LISTE NOIRE", "?"]
    r = api.query("/keyword", {"keywordEdit": "add", "keywordLabel": "PIZZA"}, method="GET")
    assert r.json()["etat"]["keyword_label"] == "PIZZA"


def test_ip_allow_list(api: Api) -> None:
    api.emu.configure(allowed_ips=("192.0.2.1",))
    assert error(api.json("/sms", SMS))[0] == "19"
    api.emu.configure(allowed_ips=("127.0.0.1",))
    assert api.json("/sms", SMS).status_code == 200


def test_subaccount_message_under_tel(api: Api) -> None:
    api.emu.configure(subaccount_message_under_tel=True, envelope="object")
    body = {"subAccountEdit": "addAccount", "subAccountLogin": "ag", "subAccountPassword": "pw"}
    entry = api.json("/subaccount", body).json()["etat"]["etat"]
    assert entry["tel"] == "Le sous compte a ete ajoute"
    assert "message" not in entry


def test_config_rejects_unknown_fields_and_values() -> None:
    with pytest.raises(ValueError, match="unknown EmulatorConfig"):
        EmulatorConfig().replace(no_such_field=1)
    with pytest.raises(ValueError, match="envelope"):
        EmulatorConfig(envelope="tuple")  # type: ignore[arg-type]


def test_reset_restores_config_and_state(api: Api) -> None:
    api.emu.configure(envelope="flat")
    api.json("/sms", SMS)
    api.emu.inject("http_500")
    api.emu.reset()
    assert api.emu.config.envelope == "list"
    assert (api.emu.sent, api.emu.requests, api.emu.faults, api.emu.credit) == ([], [], [], 100.0)
    assert api.emu.stats["requests"] == 0
