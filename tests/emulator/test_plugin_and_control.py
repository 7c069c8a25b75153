"""The pytest plugin's fixtures, the Python API and the ``/_emulator/`` control endpoints."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys

import pytest
import requests

from airflow_provider_isendpro.testing import EmulatorConfig, IsendproEmulator, ReceivedRequest, SentSms

from .helpers import Api, entries


def test_fixture_sets_the_connection(isendpro_emulator: IsendproEmulator) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_ISENDPRO_DEFAULT"])
    assert conn == {
        "conn_type": "isendpro",
        "host": isendpro_emulator.base_url,
        "password": "emulator-fake-keyid",
    }
    assert isendpro_emulator.base_url.startswith("http://127.0.0.1:")


def test_fixture_state_is_fresh_per_test_part_1(api: Api) -> None:
    api.json("/sms", {"num": "0612345678", "sms": "x"})
    api.emu.configure(envelope="flat")
    assert len(api.emu.sent) == 1


def test_fixture_state_is_fresh_per_test_part_2(api: Api) -> None:
    assert api.emu.sent == [] and api.emu.credit == 100.0
    assert api.emu.config.envelope == "list"


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys; import airflow_provider_isendpro.testing.pytest_plugin; "
        "heavy = [m for m in ('airflow', 'http.server', 'requests', 'httpx', 'phonenumbers', "
        "'airflow_provider_isendpro.testing.emulator') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_python_api_records(api: Api) -> None:
    api.json("/sms", {"num": "0612345678", "sms": "x", "tracker": "t1"})
    api.form("/credit", {"credit": "1"})
    (req,) = api.emu.requests_to("sms")
    assert isinstance(req, ReceivedRequest)
    assert (req.method, req.path, req.query) == ("POST", "/sms", {})
    assert req.headers["Content-Type"] == "application/json"
    (credit,) = api.emu.requests_to("/credit")
    assert credit.body == {"keyid": api.key, "credit": "1"}
    (sms,) = api.emu.sent
    assert isinstance(sms, SentSms)
    assert sms.request_index == 1 and sms.path == "/sms" and sms.account == "main"
    assert api.emu.stats["requests_per_path"] == {"/sms": 1, "/credit": 1}


def test_control_endpoints_never_echo_keys(api: Api) -> None:
    sub = entries(
        api.json(
            "/subaccount",
            {"subAccountEdit": "addAccount", "subAccountLogin": "ag", "subAccountPassword": "pw"},
        )
    )[0]["subAccountKeyId"]
    api.json(
        "/subaccount",
        {"subAccountEdit": "addCredit", "subAccountKeyId": sub, "subAccountAddCredit": "1"},
        method="PUT",
    )
    api.query(
        "/campagne",
        {"rapportCampagne": "1", "date_deb": "2020-01-01 00:00", "date_fin": "2020-01-02 00:00"},
        method="GET",
    )
    api.json("/sms", {"num": "0612345678", "sms": "x"}, headers={"Authorization": f"Bearer {api.key}"})
    for name in ("requests", "sent", "state", "stats", "config", "health", "faults"):
        r = api.control("GET", name)
        assert r.status_code == 200, name
        assert api.key not in r.text, name
        assert sub not in r.text, name
    requests_seen = api.control("GET", "requests").json()
    assert requests_seen["count"] == 4
    assert requests_seen["requests"][0]["body"]["keyid"] == "***"


def test_control_state_reset_config_credit(api: Api) -> None:
    api.json("/sms", {"num": "0612345678", "sms": "x"})
    api.query("/setlistenoire", {"setlisteNoire": "1", "num": "0712345678"})
    state = api.control("GET", "state").json()
    assert state["credit"] == pytest.approx(99.95)
    assert state["blacklist"] == ["0712345678"]
    assert state["stats"]["sms_sent"] == 1
    sent = api.control("GET", "sent").json()
    assert sent["count"] == 1 and sent["sent"][0]["tel"] == "0612345678"
    assert api.control("POST", "config", json={"envelope": "flat"}).json()["config"]["envelope"] == "flat"
    assert api.control("POST", "config", json={"bogus": 1}).status_code == 400
    assert api.control("POST", "credit", json={"credit": 3}).json() == {"credit": 3.0}
    assert api.control("POST", "reset").status_code == 200
    assert api.emu.sent == [] and api.emu.credit == 100.0 and api.emu.config.envelope == "list"
    assert api.control("GET", "nope").status_code == 404
    assert api.control("POST", "config", data="not json").status_code == 400


def test_keep_alive_reuses_one_connection(isendpro_emulator: IsendproEmulator) -> None:
    emu = isendpro_emulator
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        sockets = []
        for text in ("x", "y", "z"):
            body = json.dumps({"keyid": emu.api_key, "num": "0612345678", "sms": text})
            conn.request("POST", "/cgi-bin/sms", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Connection") != "close"
            response.read()
            sockets.append(conn.sock)
        assert sockets[0] is not None and sockets[0] is sockets[1] is sockets[2]
    finally:
        conn.close()
    assert len(emu.sent) == 3


def test_own_instance_with_keys_config_and_connection_uri() -> None:
    config = EmulatorConfig(credit=1.0, initial_blacklist=("33612345678",))
    with IsendproEmulator(config, api_keys=("fake-a", "fake-b")) as emu:
        assert emu.api_key == "fake-a"
        assert emu.blacklist == {"0612345678"}
        assert emu.connection_uri().startswith("isendpro://:fake-a@http%3A%2F%2F127.0.0.1%3A")
        with requests.Session() as session:
            r = session.post(emu.base_url + "/credit", data={"keyid": "fake-b", "credit": "1"}, timeout=5)
            assert r.json() == {"etat": {"credit": "1.0"}}
        port = emu.port
    assert not emu.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=2)


def test_threaded_requests_are_all_recorded(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def send(i: int) -> int:
        with requests.Session() as session:
            r = session.post(
                api.url("/sms"), json={"keyid": api.key, "num": f"06123456{i:02d}", "sms": "x"}, timeout=5
            )
            return r.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(send, range(40))) == {200}
    assert len(api.emu.sent) == 40
    assert api.emu.credit == pytest.approx(98.0)
    assert len({s.message_id for s in api.emu.sent}) == 40
