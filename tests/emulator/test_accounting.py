"""Segments and credit: what a send costs, as SMS-FACTS §2-3 and API-NOTES 8.1-8.2 describe."""

from __future__ import annotations

import pytest

from .helpers import Api, entries, error

PRICE = 0.05


def _send(api: Api, text: str, **extra: str) -> dict[str, object]:
    r = api.json("/sms", {"num": "0612345678", "sms": text, **extra})
    assert r.status_code == 200, r.text
    return entries(r)[0]


@pytest.mark.parametrize(
    ("text", "extra", "segments"),
    [
        ("a" * 160, {}, 1),
        ("a" * 161, {}, 2),
        ("a" * 148, {"emetteur": "ISENDPRO"}, 1),
        ("a" * 149, {"emetteur": "ISENDPRO"}, 2),
        ("a" * 149, {"emetteur": "ISENDPRO", "nostop": "1"}, 1),
        ("€" * 80, {}, 1),
        ("€" * 81, {}, 2),
        ("a" * 152 + "€" + "a" * 152, {}, 3),
        ("a" * 918, {}, 6),
    ],
)
def test_segments_billed(api: Api, text: str, extra: dict[str, str], segments: int) -> None:
    entry = _send(api, text, **extra)
    assert entry["smslong"] == str(segments)
    assert api.emu.sent[0].segments == segments
    assert api.emu.credit == pytest.approx(100.0 - segments * PRICE)
    assert api.emu.stats["segments_billed"] == segments


def test_stop_mention_pushes_918_over_the_cap(api: Api) -> None:
    code, message = error(api.json("/sms", {"num": "0612345678", "sms": "a" * 918, "emetteur": "ISENDPRO"}))
    assert code == "8"
    assert "STOP" in message


def test_sandbox_costs_nothing(api: Api) -> None:
    entry = _send(api, "a" * 161, sandbox="1")
    assert entry == {
        "code": 0,
        "tel": "0612345678",
        "message": "Votre message a bien ete envoye",
        "smslong": "2",
    }
    (sms,) = api.emu.sent
    assert sms.sandbox and sms.cost == 0.0
    assert api.emu.credit == 100.0
    assert api.emu.stats["sandbox_sent"] == 1 and api.emu.stats["sms_sent"] == 0


def test_sandbox_as_json_integer(api: Api) -> None:
    r = api.json("/sms", {"num": "0612345678", "sms": "x", "sandbox": 1})
    assert r.status_code == 200
    assert api.emu.sent[0].sandbox


def test_rejected_recipients_are_not_billed(api: Api) -> None:
    r = api.json("/smsmulti", {"num": ["0612345678", "0600000011", "0600000021"], "sms": ["a" * 200]})
    assert [e["code"] for e in entries(r)] == [0, 11, 21]
    assert api.emu.credit == pytest.approx(100.0 - 2 * PRICE)


def test_insufficient_credit_rejects_the_whole_request(api: Api) -> None:
    api.emu.credit = 0.12  # two segments' worth
    code, message = error(
        api.json("/smsmulti", {"num": ["0612345678", "0712345678", "0612345679"], "sms": ["x"]})
    )
    assert code == "10"
    assert "0.15" in message
    assert api.emu.sent == []
    assert api.emu.credit == pytest.approx(0.12)
    assert entries(api.json("/smsmulti", {"num": ["0612345678", "0712345678"], "sms": ["x"]}))[0]["code"] == 0
    assert api.emu.credit == pytest.approx(0.02)


def test_price_is_configurable_and_quantite_follows(api: Api) -> None:
    api.emu.configure(price_per_segment=0.1)
    _send(api, "a" * 161)
    assert api.emu.credit == pytest.approx(99.8)
    assert api.form("/credit", {"credit": "2"}).json() == {"etat": {"credit": "99.8", "quantite": "998"}}


def test_many_debits_do_not_drift(api: Api) -> None:
    r = api.json("/smsmulti", {"num": [f"06123456{i:02d}" for i in range(30)], "sms": ["x"]})
    assert r.status_code == 200
    assert api.form("/credit", {"credit": "1"}).json() == {"etat": {"credit": "98.5"}}


def test_counters_without_recording(api: Api) -> None:
    api.emu.configure(record_requests=False, record_sent=False)
    api.json("/smsmulti", {"num": ["0612345678", "0712345678"], "sms": ["x"]})
    assert api.emu.sent == [] and api.emu.requests == []
    stats = api.emu.stats
    assert stats["sms_sent"] == 2
    assert stats["requests_per_path"] == {"/smsmulti": 1}
