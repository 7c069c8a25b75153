"""CampaignReportOperator against the emulator: date range, destinations, parsing, per-tracker statuses."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_isendpro.errors import IsendproResponseError, IsendproValidationError
from airflow_provider_isendpro.hooks.isendpro import IsendproHook
from airflow_provider_isendpro.operators.reports import CampaignReportOperator, details_path_for, tracker_list
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.dagruns import task_states, xcom_value

KEY = "emulator-fake-keyid"
SEND_AT = "2030-01-15T10:00:00+01:00"  # scheduled sends give the report a fixed date
DAY = {"start": "2030-01-15 00:00", "end": "2030-01-16 00:00"}
COLUMNS = ["date", "tel", "tracker", "statut", "message_id", "nb_sms", "emetteur"]


def send(numbers: list[str], trackers: list[str]) -> None:
    hook = IsendproHook()
    hook.client.send_sms_multi(numbers, "Bonjour", send_at=SEND_AT, trackers=trackers)
    hook.close()


def campagne_query(emu: IsendproEmulator) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r.method, r.path, r.query) for r in emu.requests if r.path == "/campagne"]


@pytest.fixture
def memory_storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Register fsspec's in-memory filesystem as the ``memory://`` object-storage scheme."""
    import airflow.sdk.io.fs as airflow_fs
    from fsspec.implementations.memory import MemoryFileSystem

    schemes = dict(airflow_fs._register_filesystems())
    schemes["memory"] = lambda conn_id, options=None: MemoryFileSystem()
    monkeypatch.setattr(airflow_fs, "_register_filesystems", lambda: schemes)
    memory = MemoryFileSystem()
    yield memory
    memory.store.clear()
    memory.pseudo_dirs.clear()
    memory.pseudo_dirs.append("")


def test_download_only(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    send(["0612345678"], ["T1"])
    destination = tmp_path / "reports" / "campagne.zip"
    result = CampaignReportOperator(task_id="report", destination=str(destination), **DAY).execute({})

    assert campagne_query(isendpro_emulator) == [
        (
            "GET",
            "/campagne",
            {"keyid": KEY, "rapportCampagne": "1", **{"date_deb": DAY["start"], "date_fin": DAY["end"]}},
        )
    ]
    assert result == {"path": str(destination), "size": destination.stat().st_size, **DAY}
    assert zipfile.ZipFile(destination).namelist() == ["rapport_campagne.csv"]


def test_parse_and_statuses_per_tracker(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    send(["0612345678", "0652345678"], ["T1", "T2"])
    destination = str(tmp_path / "campagne.zip")
    op = CampaignReportOperator(task_id="report", destination=destination, trackers=["T1", "T9", "T1"], **DAY)
    result = op.execute({})
    assert result == {
        "path": destination,
        "size": Path(destination).stat().st_size,
        **DAY,
        "rows": 2,
        "columns": COLUMNS,
        "by_status": {"0": 2},
        "trackers": {"requested": 2, "found": 1, "missing": 1},
        "statuses": {"T1": "0", "T9": None},
        "details_path": None,
    }


def test_parse_without_trackers_counts_statuses(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    isendpro_emulator.configure(campaign_statut="DELIVRE")
    send(["0612345678", "0652345678"], ["T1", "T2"])
    result = CampaignReportOperator(
        task_id="r", destination=str(tmp_path / "c.zip"), parse=True, **DAY
    ).execute({})
    assert (result["rows"], result["by_status"]) == (2, {"DELIVRE": 2})
    assert "statuses" not in result


def test_columns_found_by_header_whatever_the_layout(
    isendpro_emulator: IsendproEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_isendpro.testing import operations

    layout = ["Date", "Numero", "Tracker", "Status", "Id", "Parts", "Expediteur"]
    monkeypatch.setattr(operations, "CAMPAIGN_COLUMNS", layout)
    isendpro_emulator.configure(csv_separator=",")
    send(["0612345678"], ["T1"])
    result = CampaignReportOperator(
        task_id="r", destination=str(tmp_path / "c.zip"), trackers="T1", **DAY
    ).execute({})
    assert (result["columns"], result["statuses"]) == (layout, {"T1": "0"})


def test_missing_tracker_column_is_a_clear_error(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    send(["0612345678"], ["T1"])
    op = CampaignReportOperator(
        task_id="r", destination=str(tmp_path / "c.zip"), trackers=["T1"], tracker_column="ref", **DAY
    )
    with pytest.raises(IsendproResponseError) as exc:
        op.execute({})
    assert exc.value.message == (
        f"the campaign report has no tracker column among {COLUMNS}: pass tracker_column= with the right "
        "header name"
    )
    assert (tmp_path / "c.zip").exists()  # the report itself was kept


def test_many_trackers_go_to_a_file_beside_the_report(
    isendpro_emulator: IsendproEmulator, tmp_path: Path
) -> None:
    send(["0612345678", "0652345678"], ["T1", "T2"])
    destination = str(tmp_path / "campagne.zip")
    op = CampaignReportOperator(
        task_id="r", destination=destination, trackers=["T1", "T2", "T3"], max_inline=2, **DAY
    )
    result = op.execute({})
    path = str(tmp_path / "campagne.statuses.json")
    assert (result["statuses"], result["details_path"]) == (None, path)
    assert result["trackers"] == {"requested": 3, "found": 2, "missing": 1}
    assert json.loads(Path(path).read_text(encoding="utf-8")) == {"T1": "0", "T2": "0", "T3": None}


def test_object_storage_destination(isendpro_emulator: IsendproEmulator, memory_storage: Any) -> None:
    from airflow.sdk import ObjectStoragePath

    send(["0612345678", "0652345678"], ["T1", "T2"])
    op = CampaignReportOperator(
        task_id="r", destination="memory://reports/campagne.zip", trackers=["T1", "T2"], max_inline=1, **DAY
    )
    result = op.execute({})
    data = ObjectStoragePath("memory://reports/campagne.zip").read_bytes()
    assert data[:4] == b"PK\x03\x04" and result["size"] == len(data)
    assert result["details_path"] == "memory://reports/campagne.statuses.json"
    statuses = ObjectStoragePath("memory://reports/campagne.statuses.json").read_text()
    assert json.loads(statuses) == {"T1": "0", "T2": "0"}


def test_default_range_is_the_data_interval(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    context = {
        "data_interval_start": pendulum.datetime(2030, 1, 14, 23, tz="UTC"),
        "data_interval_end": pendulum.datetime(2030, 1, 15, 23, tz="UTC"),
    }
    result = CampaignReportOperator(task_id="r", destination=str(tmp_path / "c.zip")).execute(context)
    assert (result["start"], result["end"]) == ("2030-01-15 00:00", "2030-01-16 00:00")  # Paris time
    assert campagne_query(isendpro_emulator)[0][2]["date_deb"] == "2030-01-15 00:00"


def test_no_data_interval_is_a_clear_error(isendpro_emulator: IsendproEmulator, tmp_path: Path) -> None:
    op = CampaignReportOperator(task_id="r", destination=str(tmp_path / "c.zip"))
    with pytest.raises(IsendproValidationError) as exc:
        op.execute({"data_interval_start": None, "data_interval_end": None})
    assert str(exc.value) == (
        "start=None: no date range: this run has no data interval (e.g. a manual run of an unscheduled "
        "DAG); pass start= and end="
    )
    same = pendulum.datetime(2030, 1, 15, tz="UTC")
    with pytest.raises(IsendproValidationError) as exc:
        op.execute({"data_interval_start": same, "data_interval_end": same})
    assert exc.value.message.endswith(
        "the run's data interval is empty (start == end, e.g. a manual run); pass start= and end="
    )
    assert isendpro_emulator.requests == []


def test_inverted_range_fails_at_construction() -> None:
    with pytest.raises(IsendproValidationError) as exc:
        CampaignReportOperator(
            task_id="r", destination="/tmp/c.zip", start="2030-01-16 00:00", end="2030-01-15 00:00"
        )
    assert type(exc.value) is IsendproValidationError
    assert (
        str(exc.value)
        == "end='2030-01-15 00:00': must be after start (2030-01-16 00:00): the range is inverted"
    )


def test_inverted_range_after_rendering_fails_before_any_request(
    isendpro_emulator: IsendproEmulator, tmp_path: Path
) -> None:
    op = CampaignReportOperator(
        task_id="r", destination=str(tmp_path / "c.zip"), start="{{ params.start }}", end="{{ params.end }}"
    )
    op.render_template_fields({"params": {"start": "2030-01-16 00:00", "end": "2030-01-15T12:00:00+01:00"}})
    with pytest.raises(IsendproValidationError) as exc:
        op.execute({})
    assert (
        str(exc.value)
        == "end='2030-01-15 12:00': must be after start (2030-01-16 00:00): the range is inverted"
    )
    assert isendpro_emulator.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"destination": ""}, "destination='': must be a file path or an object-storage URL (s3://…)"),
        (
            {"destination": "/x.zip", "start": "soon", "end": "2030-01-15"},
            "start='soon': must be a date or datetime like '2026-01-31 23:00'",
        ),
        ({"destination": "/x.zip", "max_inline": -1}, "max_inline=-1: must be a whole number >= 0"),
    ],
)
def test_other_bad_input_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        CampaignReportOperator(task_id="r", **kwargs)
    assert str(exc.value) == message


def test_trackers_from_send_results(tmp_path: Path) -> None:
    send_result = {
        "recipients": [{"number": "0612345678", "tracker": "A1"}, {"number": "06", "tracker": "A2"}]
    }
    assert tracker_list(None) is None
    assert tracker_list("A1, A2 A1") == ["A1", "A2"]
    assert tracker_list(send_result) == ["A1", "A2"]
    assert tracker_list([send_result, {"recipients": [{"tracker": "B1"}]}]) == ["A1", "A2", "B1"]  # mapped
    details = tmp_path / "details.jsonl"
    details.write_text('{"index": 0, "tracker": "C1"}\n{"index": 1, "tracker": "C2"}\n', encoding="utf-8")
    assert tracker_list({"recipients": None, "details_path": str(details)}) == ["C1", "C2"]
    with pytest.raises(IsendproValidationError) as exc:
        tracker_list({"foo": 1})
    assert exc.value.field == "trackers"
    assert details_path_for("s3://b/report.ZIP") == "s3://b/report.statuses.json"
    assert details_path_for("/data/report") == "/data/report.statuses.json"


# --------------------------------------------------------------------------------------------------
# dag.test()


@pytest.mark.integration
def test_dag_send_then_report_for_its_trackers(
    isendpro_emulator: IsendproEmulator, run_dag: Callable[..., Any], tmp_path: Path
) -> None:
    from airflow.sdk import DAG

    from tests.compat import cron_data_interval_timetable

    CronDataIntervalTimetable = cron_data_interval_timetable()

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    daily = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")  # manual runs get the last full day
    with DAG(
        "report_after_send", schedule=daily, start_date=pendulum.datetime(2030, 1, 1, tz="UTC"), catchup=False
    ) as dag:
        sent = SendSmsOperator(
            task_id="send",
            recipients=["0612345678", "0652345678"],
            text="Rappel",
            send_at=SEND_AT,
            ledger_path=str(tmp_path / "ledger"),
        )
        CampaignReportOperator(
            task_id="report", destination=str(tmp_path / "campagne-{{ ds }}.zip"), trackers=sent.output
        )

    run = run_dag(dag, logical_date=pendulum.datetime(2030, 1, 16, tz="UTC"))
    assert task_states(run) == {"send": "success", "report": "success"}
    trackers = [r["tracker"] for r in xcom_value(run, "send")["recipients"]]
    # The run's data interval, 2030-01-15 00:00 → 2030-01-16 00:00 UTC, in Paris wall time.
    assert campagne_query(isendpro_emulator) == [
        (
            "GET",
            "/campagne",
            {
                "keyid": KEY,
                "rapportCampagne": "1",
                "date_deb": "2030-01-15 01:00",
                "date_fin": "2030-01-16 01:00",
            },
        )
    ]
    destination = tmp_path / "campagne-2030-01-16.zip"
    assert xcom_value(run, "report") == {
        "path": str(destination),
        "size": destination.stat().st_size,
        "start": "2030-01-15 01:00",
        "end": "2030-01-16 01:00",
        "rows": 2,
        "columns": COLUMNS,
        "by_status": {"0": 2},
        "trackers": {"requested": 2, "found": 2, "missing": 0},
        "statuses": dict.fromkeys(trackers, "0"),
        "details_path": None,
    }
