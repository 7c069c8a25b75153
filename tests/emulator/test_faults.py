"""Every injected fault and every magic number behaves as documented (short client timeouts)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_isendpro.testing import (
    MAGIC_BLACKLISTED,
    MAGIC_HANG,
    MAGIC_HTTP_400,
    MAGIC_HTTP_429,
    MAGIC_HTTP_500,
    MAGIC_UNASSIGNED,
    IsendproEmulator,
)

from .helpers import Api, entries, error

SHORT = (2.0, 0.2)  # connect, read
SMS = {"num": ["0612345678"], "sms": ["Hello"]}


def _multi(api: Api, body: dict[str, Any] | None = None, timeout: Any = 5.0) -> requests.Response:
    return api.json("/smsmulti", body or SMS, timeout=timeout)


@pytest.mark.parametrize(("fault", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503)])
def test_5xx_faults(api: Api, fault: str, status: int) -> None:
    api.emu.inject(fault, path="/smsmulti")
    r = _multi(api)
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("text/html")
    assert api.emu.sent == []
    # times=1: the next call goes through.
    assert _multi(api).status_code == 200


def test_429_fault_with_retry_after(api: Api) -> None:
    api.emu.inject("http_429", path="credit", retry_after=7)
    r = api.form("/credit", {"credit": "1"})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert error(r, status=429)[0] == "14"


def test_400_fault(api: Api) -> None:
    api.emu.inject("http_400")
    code, message = error(_multi(api))
    assert code == "99"
    assert "http_400" in message


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("html", lambda r: r.headers["Content-Type"].startswith("text/html") and "<html>" in r.text),
        ("malformed", lambda r: r.text.startswith('{"etat"') and not _is_json(r)),
        ("empty", lambda r: r.content == b""),
        ("no_etat", lambda r: _is_json(r) and "etat" not in r.json()),
    ],
)
def test_bad_body_faults_answer_200(api: Api, fault: str, check: Any) -> None:
    api.emu.inject(fault, path="/smsmulti")
    r = _multi(api)
    assert r.status_code == 200
    assert check(r)
    assert api.emu.sent == []


def _is_json(r: requests.Response) -> bool:
    try:
        r.json()
    except ValueError:
        return False
    return True


def test_hang_times_out_and_sends_nothing(api: Api) -> None:
    api.emu.inject("hang", path="/smsmulti")
    with pytest.raises(requests.exceptions.ReadTimeout):
        _multi(api, timeout=SHORT)
    assert api.emu.wait_hanging(1)
    assert api.emu.sent == []
    api.emu.release_hangs()
    assert _multi(api).status_code == 200


def test_hang_after_accept_records_the_sms(api: Api) -> None:
    api.emu.inject("hang_after_accept", path="/smsmulti")
    with pytest.raises(requests.exceptions.ReadTimeout):
        _multi(api, timeout=SHORT)
    assert api.emu.wait_hanging(1)
    assert [s.tel for s in api.emu.sent] == ["0612345678"]
    assert api.emu.credit == pytest.approx(99.95)


def test_reset_faults(api: Api) -> None:
    api.emu.inject("reset", path="/smsmulti")
    with pytest.raises(requests.exceptions.ConnectionError):
        _multi(api)
    assert api.emu.sent == []
    api.emu.inject("reset_after_accept", path="/smsmulti")
    with pytest.raises(requests.exceptions.ConnectionError):
        _multi(api)
    assert len(api.emu.sent) == 1


def test_after_and_times(api: Api) -> None:
    api.emu.inject("http_503", path="/smsmulti", after=1, times=2)
    assert [_multi(api).status_code for _ in range(4)] == [200, 503, 503, 200]
    assert api.emu.faults == []


def test_times_none_fires_until_cleared_and_path_filter(api: Api) -> None:
    api.emu.inject("http_500", path="/hlr", times=None)
    for _ in range(3):
        assert api.json("/hlr", {"getHLR": "1", "num": ["0612345678"]}).status_code == 500
    assert _multi(api).status_code == 200
    api.emu.clear_faults()
    assert api.json("/hlr", {"getHLR": "1", "num": ["0612345678"]}).status_code == 200


def test_slow_fault_answers_after_the_delay(api: Api) -> None:
    api.emu.inject("slow", path="/credit", delay=0.01)
    assert api.form("/credit", {"credit": "1"}).json() == {"etat": {"credit": "100.0"}}
    api.emu.inject("slow", path="/credit", delay=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.form("/credit", {"credit": "1"}, timeout=SHORT)
    assert api.emu.wait_hanging(1)


def test_unknown_fault_is_refused(api: Api) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        api.emu.inject("explode")


def test_faults_through_the_control_endpoint(api: Api) -> None:
    r = api.control("POST", "faults", json={"fault": "http_502", "path": "/sms", "times": 1})
    assert r.status_code == 200
    assert r.json()["armed"]["fault"] == "http_502"
    assert api.control("GET", "faults").json()["faults"][0]["path"] == "/sms"
    assert api.json("/sms", {"num": "0612345678", "sms": "x"}).status_code == 502
    assert api.control("POST", "faults", json={"fault": "nope"}).status_code == 400
    api.control("POST", "faults", json={"fault": "http_500", "times": None})
    assert api.control("DELETE", "faults").json() == {"faults": []}


# --- magic numbers --------------------------------------------------------------------------------------


def test_magic_per_recipient_codes(api: Api) -> None:
    r = _multi(api, {"num": [MAGIC_BLACKLISTED, MAGIC_UNASSIGNED, "0612345678"], "sms": ["x"]})
    assert r.status_code == 200
    assert [(e["code"], e["tel"]) for e in entries(r)] == [
        (11, MAGIC_BLACKLISTED),
        (21, MAGIC_UNASSIGNED),
        (0, "0612345678"),
    ]


def test_magic_400(api: Api) -> None:
    code, message = error(_multi(api, {"num": ["0612345678", MAGIC_HTTP_400], "sms": ["x"]}))
    assert code == "98"
    assert MAGIC_HTTP_400 in message
    assert api.emu.sent == []


def test_magic_500_and_429(api: Api) -> None:
    r = _multi(api, {"num": [MAGIC_HTTP_500], "sms": ["x"]})
    assert r.status_code == 500
    r = api.json("/sms", {"num": "33" + MAGIC_HTTP_429[1:], "sms": "x"})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert api.emu.sent == []
    assert api.emu.credit == 100.0


def test_magic_hang(api: Api) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.json("/hlr", {"getHLR": "1", "num": [MAGIC_HANG]}, timeout=SHORT)
    assert api.emu.wait_hanging(1)
    assert api.emu.sent == []


def test_hang_is_released_by_stop() -> None:
    emu = IsendproEmulator()
    emu.start()
    emu.inject("hang", times=None)
    with requests.Session() as session:
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.post(emu.base_url + "/credit", data={"keyid": emu.api_key, "credit": "1"}, timeout=SHORT)
        assert emu.wait_hanging(1)
        emu.stop()  # must return promptly although a handler is hanging (hang_timeout is 30 s)
        assert emu.hanging == 0


def test_number_latency(api: Api) -> None:
    api.emu.configure(number_latency={"0612345678": 30.0})
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.json("/sms", {"num": "0612345678", "sms": "x"}, timeout=SHORT)
    assert api.emu.wait_hanging(1)
