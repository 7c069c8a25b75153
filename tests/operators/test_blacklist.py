"""Blacklist operators against the emulator: add, remove, download (local and object storage)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.errors import IsendproApiError, IsendproAuthError, IsendproValidationError
from airflow_provider_isendpro.operators.blacklist import (
    BlacklistAddOperator,
    BlacklistDownloadOperator,
    BlacklistRemoveOperator,
)
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import task_states, xcom_value
from tests.operators.test_reports import memory_storage  # noqa: F401  (fixture)

KEY = "emulator-fake-keyid"
START = pendulum.datetime(2026, 1, 1, tz="UTC")


class FakeTi:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def entry(raw: str, number: str | None, status: str, detail: str | None = None) -> dict[str, Any]:
    return {"input": raw, "number": number, "status": status, "detail": detail}


def calls(emu: IsendproEmulator) -> list[tuple[str, str, dict[str, Any], Any]]:
    return [(r.method, r.path, r.query, r.body) for r in emu.requests]


def test_add_normalises_then_one_call_per_number(isendpro_emulator: IsendproEmulator) -> None:
    numbers = ["06 12 34 56 78", "+33612345678", "12", "0712345678"]
    result = BlacklistAddOperator(task_id="add", numbers=numbers).execute({})
    assert calls(isendpro_emulator) == [
        ("POST", "/setlistenoire", {"keyid": KEY, "setlisteNoire": "1", "num": "0612345678"}, None),
        ("POST", "/setlistenoire", {"keyid": KEY, "setlisteNoire": "1", "num": "0712345678"}, None),
    ]
    assert isendpro_emulator.blacklist == {"0612345678", "0712345678"}  # 07 accepted: lenient by default
    assert result == {
        "action": "add",
        "counts": {"input": 4, "done": 2, "failed": 0, "invalid": 1, "duplicate": 1},
        "numbers": [
            entry("06 12 34 56 78", "0612345678", "done"),
            entry("+33612345678", "0612345678", "duplicate"),
            entry(
                "12",
                None,
                "invalid",
                "recipient='12': is not a possible phone number (+33): too short; check the digits",
            ),
            entry("0712345678", "0712345678", "done"),
        ],
    }


def test_remove(isendpro_emulator: IsendproEmulator) -> None:
    BlacklistAddOperator(task_id="add", numbers="0612345678,0652345678").execute({})
    result = BlacklistRemoveOperator(task_id="remove", numbers=["0652345678"]).execute({})
    assert calls(isendpro_emulator)[-1] == (
        "POST",
        "/dellistenoire",
        {"keyid": KEY, "delListeNoire": "1", "num": "0652345678"},
        None,
    )
    assert isendpro_emulator.blacklist == {"0612345678"}
    assert result == {
        "action": "remove",
        "counts": {"input": 1, "done": 1, "failed": 0, "invalid": 0, "duplicate": 0},
        "numbers": [entry("0652345678", "0652345678", "done")],
    }


def test_refused_number_is_reported_and_the_rest_still_done(isendpro_emulator: IsendproEmulator) -> None:
    isendpro_emulator.inject("http_400", "/setlistenoire")  # the first call only
    ti = FakeTi()
    op = BlacklistAddOperator(task_id="add", numbers=["0612345678", "0652345678"])
    with pytest.raises(IsendproApiError) as exc:
        op.execute({"ti": ti})
    assert exc.value.message == (
        "blacklist add: iSendPro refused 1 of 2 numbers (0612345678); the others were done. "
        "Details in the 'blacklist_result' XCom; set fail_on_error=False to only report"
    )
    assert isendpro_emulator.blacklist == {"0652345678"}
    failed = ti.pushed["blacklist_result"]["numbers"][0]
    assert (failed["status"], failed["detail"]) == (
        "failed",
        "setListeNoire (POST /setlistenoire): iSendPro refused the request: code 99, "
        "\"Injected fault: fault 'http_400'\"",
    )

    isendpro_emulator.inject("http_400", "/setlistenoire")
    result = BlacklistAddOperator(task_id="add", numbers=["0612345678"], fail_on_error=False).execute({})
    assert result["counts"] == {"input": 1, "done": 0, "failed": 1, "invalid": 0, "duplicate": 0}


def test_refused_key_stops_at_once(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ISENDPRO_DEFAULT",
        json.dumps(
            {"conn_type": "isendpro", "host": isendpro_emulator.base_url, "password": "wrong-key-123"}
        ),
    )
    with pytest.raises(IsendproAuthError):
        BlacklistAddOperator(task_id="add", numbers=["0612345678", "0652345678"]).execute({})
    assert len(isendpro_emulator.requests) == 1


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (BlacklistAddOperator, {"numbers": []}, "numbers=[]: is empty: give at least one phone number"),
        (
            BlacklistRemoveOperator,
            {},
            "numbers=None: give exactly one of numbers= (a list, a string, a "
            "template or an XComArg) or numbers_file= (a file with one number per line)",
        ),
        (
            BlacklistDownloadOperator,
            {"destination": " "},
            "destination=' ': must be a file path or an object-storage URL (s3://…)",
        ),
    ],
)
def test_bad_input_at_construction(cls: type[Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        cls(task_id="t", **kwargs)
    assert str(exc.value) == message


def test_download_and_parse(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    BlacklistAddOperator(task_id="add", numbers=["0612345678", "0652345678"]).execute({})
    destination = tmp_path / "liste_noire.zip"
    result = BlacklistDownloadOperator(task_id="dl", destination=str(destination), parse=True).execute({})
    assert calls(isendpro_emulator)[-1] == (
        "POST",
        "/getlistenoire",
        {"keyid": KEY, "getListeNoire": "1"},
        None,
    )
    assert result == {
        "path": str(destination),
        "size": destination.stat().st_size,
        "count": 2,
        "numbers": ["0612345678", "0652345678"],
    }
    assert BlacklistDownloadOperator(task_id="dl", destination=str(destination)).execute({}) == {
        "path": str(destination),
        "size": destination.stat().st_size,
    }


def test_download_to_object_storage(isendpro_emulator: IsendproEmulator, memory_storage: Any) -> None:  # noqa: F811
    from airflow.sdk import ObjectStoragePath

    result = BlacklistDownloadOperator(task_id="dl", destination="memory://bl/list.zip", parse=True).execute(
        {}
    )
    data = ObjectStoragePath("memory://bl/list.zip").read_bytes()
    assert result == {"path": "memory://bl/list.zip", "size": len(data), "count": 0, "numbers": []}


@pytest.mark.integration
def test_dag_add_download_remove(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Path
) -> None:
    from airflow.sdk import DAG

    with DAG(
        "blacklist_cycle", schedule=None, start_date=START, catchup=False, params={"n": "0612345678"}
    ) as dag:
        add = BlacklistAddOperator(task_id="add", numbers="{{ params.n }}, 0652345678")
        download = BlacklistDownloadOperator(
            task_id="download", destination=str(tmp_path / "bl-{{ ds }}.zip"), parse=True
        )
        remove = BlacklistRemoveOperator(task_id="remove", numbers=["{{ params.n }}"])
        add >> download >> remove

    run = run_dag(dag)
    assert task_states(run) == {"add": "success", "download": "success", "remove": "success"}
    assert [(r.path, r.query.get("num")) for r in isendpro_emulator.requests] == [
        ("/setlistenoire", "0612345678"),
        ("/setlistenoire", "0652345678"),
        ("/getlistenoire", None),
        ("/dellistenoire", "0612345678"),
    ]
    assert isendpro_emulator.blacklist == {"0652345678"}
    assert xcom_value(run, "add")["counts"] == {
        "input": 2,
        "done": 2,
        "failed": 0,
        "invalid": 0,
        "duplicate": 0,
    }
    downloaded = xcom_value(run, "download")
    assert (downloaded["count"], downloaded["numbers"]) == (2, ["0612345678", "0652345678"])
    assert downloaded["path"].startswith(str(tmp_path / "bl-"))
    assert xcom_value(run, "remove") == {
        "action": "remove",
        "counts": {"input": 1, "done": 1, "failed": 0, "invalid": 0, "duplicate": 0},
        "numbers": [entry("0612345678", "0612345678", "done")],
    }
