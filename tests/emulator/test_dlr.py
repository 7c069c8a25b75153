"""The emulator's delivery receipts (issue 22, item 4): callbacks to ``dlr_url`` and the report's statuses.

A real loopback receiver (``DlrRecorder``: ``http.server`` in a thread) gets the callbacks; the tests wait
on its condition or the emulator's (``wait_dlr``), never on a sleep, and compare the exact query strings.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from airflow_provider_isendpro.testing import (
    DLR_MIX_REALISTIC,
    MAGIC_BLACKLISTED,
    MAGIC_DLR_EXPIRED,
    MAGIC_DLR_FAILED,
    MAGIC_DLR_NONE,
    DlrCall,
    DlrRecorder,
    EmulatorConfig,
    IsendproEmulator,
)
from airflow_provider_isendpro.testing.dlr import draw_statut

from .helpers import Api, unzip

WHOLE_RANGE = {"rapportCampagne": "1", "date_deb": "2000-01-01 00:00", "date_fin": "2099-12-31 23:59"}


def _report(api: Api) -> list[dict[str, str]]:
    """The ``/campagne`` rows as dicts."""
    _, text = unzip(api.query("/campagne", WHOLE_RANGE, method="GET"))
    header, *rows = [line.split(";") for line in text.splitlines()]
    return [dict(zip(header, row, strict=True)) for row in rows]


def _multi(api: Api, numbers: list[str], trackers: list[str], **extra: Any) -> requests.Response:
    response = api.json("/smsmulti", {"num": numbers, "sms": "Bonjour", "tracker": trackers, **extra})
    assert response.status_code == 200, response.text
    return response


def test_get_callbacks_carry_tel_statut_tracker(api: Api, isendpro_dlr_recorder: DlrRecorder) -> None:
    _multi(api, ["0612345678", "33652345678"], ["T1", "T2"])
    api.json("/sms", {"num": "0712345678", "sms": "Seul", "tracker": "T3"})

    assert api.emu.wait_dlr(3)
    received = sorted(isendpro_dlr_recorder.requests, key=lambda r: r.query)
    assert [(r.method, r.path, r.query, r.body) for r in received] == [
        ("GET", "/dlr", "tel=0612345678&statut=0&tracker=T1", ""),
        ("GET", "/dlr", "tel=0652345678&statut=0&tracker=T2", ""),  # national form, as in the report
        ("GET", "/dlr", "tel=0712345678&statut=0&tracker=T3", ""),
    ]
    calls = sorted(api.emu.dlr_calls, key=lambda c: c.tel)
    assert all(isinstance(c, DlrCall) for c in calls)
    assert [(c.tel, c.tracker, c.statut, c.attempt, c.status, c.ok, c.final) for c in calls] == [
        ("0612345678", "T1", "0", 1, 204, True, True),
        ("0652345678", "T2", "0", 1, 204, True, True),
        ("0712345678", "T3", "0", 1, 204, True, True),
    ]
    assert calls[0].url == f"{isendpro_dlr_recorder.url}?tel=0612345678&statut=0&tracker=T1"
    assert api.emu.dlr_summary() == {"posted": {"0": 3}, "gave_up": 0, "pending": 0, "attempts": 3}


def test_a_hanging_receiver_never_delays_the_send(api: Api, isendpro_dlr_recorder: DlrRecorder) -> None:
    isendpro_dlr_recorder.hold()  # the receiver takes the callback and does not answer
    api.emu.configure(dlr_timeout=30.0)
    response = api.json("/sms", {"num": "0612345678", "sms": "x", "tracker": "T1"}, timeout=3)
    assert response.status_code == 200  # answered while the callback is still in flight
    assert isendpro_dlr_recorder.wait(1)
    assert api.emu.dlr_pending == 1 and api.emu.dlr_calls == []
    isendpro_dlr_recorder.release()
    assert api.emu.wait_dlr(1)
    assert [(c.status, c.ok) for c in api.emu.dlr_calls] == [(204, True)]


def test_the_mix_is_drawn_per_tracker_deterministically(api: Api, isendpro_dlr_recorder: DlrRecorder) -> None:
    api.emu.configure(dlr_statuses=DLR_MIX_REALISTIC)
    numbers = [f"0612{300000 + n:06d}" for n in range(200)]
    trackers = [f"E2E{n}" for n in range(200)]
    _multi(api, numbers, trackers)

    assert api.emu.wait_dlr(200)
    got = {r.params["tracker"]: r.params["statut"] for r in isendpro_dlr_recorder.requests}
    expected = {t: draw_statut(api.emu.config, n, t) for n, t in zip(numbers, trackers, strict=True)}
    assert got == expected == {t: api.emu.dlr_statut(n, t) for n, t in zip(numbers, trackers, strict=True)}
    # Pinned: the draw is a hash of the tracker (stable across processes), not a random generator.
    assert Counter(got.values()) == {"0": 182, "1": 16, "2": 2}
    assert api.emu.dlr_summary()["posted"] == {"0": 182, "1": 16, "2": 2}
    # The same mix written in another order draws the same.
    reordered = EmulatorConfig(dlr_statuses={"2": 0.03, "0": 0.9, "1": 0.07})
    assert {t: draw_statut(reordered, n, t) for n, t in zip(numbers, trackers, strict=True)} == expected


def test_magic_numbers_overrides_sandbox_and_refused_recipients(
    api: Api, isendpro_dlr_recorder: DlrRecorder
) -> None:
    api.emu.configure(dlr_number_statuses={"+33612345678": "1", "0612345679": None})
    numbers = [MAGIC_DLR_FAILED, MAGIC_DLR_EXPIRED, MAGIC_DLR_NONE, "0612345678", "0612345679"]
    numbers += [MAGIC_BLACKLISTED, "0612345670"]
    _multi(api, numbers, [f"M{n}" for n in range(7)])
    api.json("/sms", {"num": "0612345671", "sms": "test", "tracker": "S1", "sandbox": "1"})

    assert api.emu.wait_dlr(4)
    assert api.emu.wait_dlr_idle()
    assert sorted(r.query for r in isendpro_dlr_recorder.requests) == [
        f"tel={MAGIC_DLR_FAILED}&statut=1&tracker=M0",
        f"tel={MAGIC_DLR_EXPIRED}&statut=2&tracker=M1",
        "tel=0612345670&statut=0&tracker=M6",
        "tel=0612345678&statut=1&tracker=M3",
    ]  # no receipt: MAGIC_DLR_NONE, the override to None, the blacklisted number, the sandbox send
    statuts = {row["tel"]: row["statut"] for row in _report(api)}
    assert statuts == {
        MAGIC_DLR_FAILED: "1",
        MAGIC_DLR_EXPIRED: "2",
        MAGIC_DLR_NONE: "",  # pending for ever
        "0612345678": "1",
        "0612345679": "",
        "0612345670": "0",
    }


def test_post_method_parameter_names_and_the_url_query(api: Api, isendpro_dlr_recorder: DlrRecorder) -> None:
    api.emu.configure(
        dlr_url=f"{isendpro_dlr_recorder.url}?account=demo",
        dlr_method="post",
        dlr_params={"number": "numero", "status": "etat", "tracker": ""},
    )
    api.json("/sms", {"num": "0612345678", "sms": "x", "tracker": "T1"})
    api.json("/sms", {"num": "0612345679", "sms": "y"})  # no tracker: the parameter is left out anyway

    assert api.emu.wait_dlr(2)
    received = sorted(isendpro_dlr_recorder.requests, key=lambda r: r.body)
    assert [(r.method, r.query, r.body, r.content_type) for r in received] == [
        ("POST", "account=demo", "numero=0612345678&etat=0", "application/x-www-form-urlencoded"),
        ("POST", "account=demo", "numero=0612345679&etat=0", "application/x-www-form-urlencoded"),
    ]


def test_a_failed_callback_is_retried_then_recorded(api: Api, isendpro_dlr_recorder: DlrRecorder) -> None:
    api.emu.configure(dlr_retries=2, dlr_retry_delay=0.0)
    isendpro_dlr_recorder.fail_next(2, status=503)
    api.json("/sms", {"num": "0612345678", "sms": "x", "tracker": "T1"})

    assert api.emu.wait_dlr(1)
    assert [r.status for r in isendpro_dlr_recorder.requests] == [503, 503, 204]
    assert [(c.attempt, c.status, c.ok, c.final) for c in api.emu.dlr_calls] == [
        (1, 503, False, False),
        (2, 503, False, False),
        (3, 204, True, True),
    ]
    assert api.emu.dlr_summary() == {"posted": {"0": 1}, "gave_up": 0, "pending": 0, "attempts": 3}


def test_an_unreachable_receiver_is_given_up_after_the_retries(isendpro_emulator: IsendproEmulator) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    lines: list[str] = []
    isendpro_emulator.request_log = lines.append
    isendpro_emulator.configure(
        dlr_url=f"http://127.0.0.1:{port}/dlr/s3cr3t", dlr_retries=1, dlr_retry_delay=0
    )
    try:
        with requests.Session() as session:
            Api(isendpro_emulator, session).json("/sms", {"num": "0612345678", "sms": "x", "tracker": "T1"})
        assert isendpro_emulator.wait_dlr(1)
    finally:
        isendpro_emulator.request_log = None
    calls = isendpro_emulator.dlr_calls
    assert [(c.attempt, c.status, c.ok, c.final) for c in calls] == [
        (1, None, False, False),
        (2, None, False, True),
    ]
    assert "ConnectionRefusedError" in calls[0].response
    assert isendpro_emulator.dlr_summary()["gave_up"] == 1
    dlr_lines = [line for line in lines if line.startswith("DLR")]
    assert dlr_lines == [
        f"DLR GET -> no answer ({calls[0].response}): 0612345678 statut 0, attempt 1 of 2, retrying",
        f"DLR GET -> no answer ({calls[1].response}): 0612345678 statut 0, gave up after 2 attempts",
    ]
    assert not any("s3cr3t" in line for line in lines)  # the URL's path (a receiver's secret) is not logged


def test_the_report_is_pending_until_the_receipt_is_due(api: Api, isendpro_dlr_recorder: DlrRecorder) -> None:
    api.emu.configure(dlr_delay=3600.0, dlr_statuses={"1": 1.0}, campaign_pending_statut="EN COURS")
    real_clock = api.emu.clock
    api.json("/sms", {"num": "0612345678", "sms": "x", "tracker": "T1"})

    assert [row["statut"] for row in _report(api)] == ["EN COURS"]
    assert api.emu.dlr_pending == 1 and isendpro_dlr_recorder.requests == []  # not due for an hour
    (receipt,) = api.emu.receipts
    assert (receipt.tel, receipt.tracker, receipt.statut) == ("0612345678", "T1", "1")
    api.emu.clock = lambda: real_clock() + timedelta(seconds=3601)  # the emulator's wall clock, an hour on
    assert [row["statut"] for row in _report(api)] == ["1"]
    api.emu.clock = real_clock
    assert api.control("POST", "dlr/release").json() == {"released": 1}  # due now: sent at once
    assert isendpro_dlr_recorder.wait(1)
    assert [r.query for r in isendpro_dlr_recorder.requests] == ["tel=0612345678&statut=1&tracker=T1"]
    assert [row["statut"] for row in _report(api)] == ["1"]  # the report agrees, on the real clock too
    api.emu.configure(campaign_statut="DELIVRE")  # forces every row, as before receipts existed
    assert [row["statut"] for row in _report(api)] == ["DELIVRE"]
    api.emu.reset()
    assert (api.emu.dlr_pending, api.emu.receipts, api.emu.dlr_calls) == (0, [], [])


def test_a_scheduled_send_is_receipted_after_its_date_envoi(
    api: Api, isendpro_dlr_recorder: DlrRecorder
) -> None:
    send = {"num": "0612345678", "sms": "x", "tracker": "T1", "date_envoi": "2031-05-01 10:00"}
    api.json("/sms", send)  # default: receipted at once, like an immediate send
    api.emu.configure(dlr_after_date_envoi=True, dlr_delay=60.0)
    api.json("/sms", {**send, "tracker": "T2", "gmt_zone": "Europe/London"})

    assert api.emu.wait_dlr(1)
    first, second = api.emu.receipts
    london = datetime(2031, 5, 1, 10, 0, tzinfo=ZoneInfo("Europe/London")).timestamp()
    assert first.due < london and second.due == london + 60.0
    assert {row["tracker"]: row["statut"] for row in _report(api)} == {"T1": "0", "T2": ""}
    assert [r.params["tracker"] for r in isendpro_dlr_recorder.requests] == ["T1"]
    assert api.emu.dlr_pending == 1  # T2's callback waits for 2031


def test_a_send_whose_answer_is_lost_still_gets_its_receipt(
    api: Api, isendpro_dlr_recorder: DlrRecorder
) -> None:
    api.emu.inject("reset_after_accept", path="/sms")
    with pytest.raises(requests.ConnectionError):
        api.json("/sms", {"num": "0612345678", "sms": "x", "tracker": "T1"})
    assert isendpro_dlr_recorder.wait(1)
    assert [r.query for r in isendpro_dlr_recorder.requests] == ["tel=0612345678&statut=0&tracker=T1"]


def test_control_endpoints_configure_and_show_receipts(api: Api, isendpro_dlr_recorder: DlrRecorder) -> None:
    answer = api.control(
        "POST", "config", json={"dlr_statuses": {"2": 1}, "dlr_number_statuses": {"0612345679": None}}
    )
    assert answer.status_code == 200
    config = answer.json()["config"]
    assert (config["dlr_url"], config["dlr_statuses"], config["dlr_method"]) == (
        isendpro_dlr_recorder.url,
        {"2": 1.0},
        "GET",
    )
    assert config["dlr_number_statuses"] == {
        MAGIC_DLR_NONE: None,
        MAGIC_DLR_FAILED: "1",
        MAGIC_DLR_EXPIRED: "2",
        "0612345679": None,
    }
    _multi(api, ["0612345678", "0612345679"], ["T1", "T2"])
    assert api.emu.wait_dlr(1)

    shown = api.control("GET", "dlr", params={"receipts": "1"}).json()
    assert {k: v for k, v in shown.items() if k not in ("calls", "receipts")} == {
        "posted": {"2": 1},
        "gave_up": 0,
        "pending": 0,
        "attempts": 1,
        "count": 1,
    }
    (call,) = shown["calls"]
    assert (call["url"], call["status"], call["statut"]) == (
        f"{isendpro_dlr_recorder.url}?tel=0612345678&statut=2&tracker=T1",
        204,
        "2",
    )
    assert [(r["tel"], r["tracker"], r["statut"]) for r in shown["receipts"]] == [
        ("0612345678", "T1", "2"),
        ("0612345679", "T2", None),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dlr_method": "PUT"}, "dlr_method = 'PUT': use 'GET' or 'POST'"),
        ({"dlr_url": "ftp://x/dlr"}, "dlr_url must be an http:// or https:// URL (or None for no callbacks)"),
        ({"dlr_statuses": {}}, "dlr_statuses = {}: give statut -> weight, weights >= 0 and not all 0, "),
        ({"dlr_params": {"phone": "tel"}}, "dlr_params: unknown key(s) phone; use number, status, tracker"),
        ({"dlr_delay": -1}, "dlr_delay, dlr_retries and dlr_retry_delay must be >= 0, dlr_timeout > 0"),
    ],
)
def test_bad_dlr_config_is_refused(api: Api, change: dict[str, Any], message: str) -> None:
    answer = api.control("POST", "config", json=change)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(message)
    assert api.emu.config.dlr_url is None


def test_cli_sends_receipts_and_keeps_the_url_path_out_of_its_output(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    with DlrRecorder(path="/isendpro/dlr/s3cr3t") as recorder:
        host = recorder.url.split("/isendpro")[0]
        cmd = [sys.executable, "-m", "airflow_provider_isendpro.testing", "--port", "0"]
        cmd += ["--ready-file", str(ready), "--dlr-url", recorder.url, "--dlr-delay", "0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            base_url = _wait_for_file(ready, proc)
            body = {"keyid": "emulator-fake-keyid", "num": "0612345678", "sms": "x", "tracker": "T1"}
            assert requests.post(f"{base_url}/sms", json=body, timeout=5).status_code == 200
            assert recorder.wait(1)
            proc.terminate()
            out, _ = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        assert [r.query for r in recorder.requests] == ["tel=0612345678&statut=0&tracker=T1"]
    assert f"Delivery receipts: GET {host}/... 0 s after each accepted SMS (path not shown)" in out
    assert "DLR GET -> 204: 0612345678 statut 0" in out.splitlines()
    assert "s3cr3t" not in out


def _wait_for_file(path: Path, proc: subprocess.Popen[str]) -> str:
    from .test_cli import _wait_for

    return _wait_for(path, proc)
