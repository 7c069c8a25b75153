"""``CampaignReportOperator``: download iSendPro's campaign report (``/campagne``) and read delivery statuses.

The report is the only pull source for delivery status (API-NOTES §6.6, §7). Its CSV layout is
undocumented, so columns are found by header name and unknown columns are ignored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_isendpro.client.reports import STATUS_COLUMNS, TRACKER_COLUMNS, find_column
from airflow_provider_isendpro.errors import IsendproResponseError, IsendproValidationError
from airflow_provider_isendpro.sending.results import is_remote, result_rows

if TYPE_CHECKING:
    from airflow.sdk import Context


# --------------------------------------------------------------------------------------------------
# Destinations: a local path, or an object-storage URL written through a local temporary file


class StagedDownload:
    """Where a download lands first: the destination itself when local, else a temporary file that
    :meth:`publish` copies to object storage. :meth:`cleanup` removes the temporary file.
    """

    def __init__(self, destination: str, conn_id: str | None = None) -> None:
        self.destination = destination
        self.conn_id = conn_id
        self.remote = is_remote(destination)
        if self.remote:
            fd, self.local = tempfile.mkstemp(prefix="isendpro-download-", suffix=".zip")
            os.close(fd)
        else:
            self.local = destination.removeprefix("file://")

    def publish(self) -> None:
        if not self.remote:
            return
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(self.destination, conn_id=self.conn_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(self.local, "rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)

    def cleanup(self) -> None:
        if self.remote:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.local)


def write_text(destination: str, text: str, conn_id: str | None = None) -> None:
    """Write ``text`` to a local path or an object-storage URL."""
    if is_remote(destination):
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(destination, conn_id=conn_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return
    path = destination.removeprefix("file://")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def check_destination(value: Any, field: str = "destination") -> str:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise IsendproValidationError(
            field=field, value=value, rule="must be a file path or an object-storage URL (s3://…)"
        )
    return str(value).strip()


# --------------------------------------------------------------------------------------------------
# Trackers: given directly, or taken from a send task's XCom


def tracker_list(value: Any) -> list[str] | None:
    """Trackers from a list, a string (comma/space separated), a ``SendSmsOperator`` result (or a list
    of them, from mapped sends), or rows holding ``tracker``. De-duplicated, in order. None: no trackers.
    """
    if value is None:
        return None
    found: dict[str, None] = {}
    for row in result_rows(value):
        if row.get("tracker"):
            found.setdefault(str(row["tracker"]), None)
    return list(found)


# --------------------------------------------------------------------------------------------------
# Dates


def _is_static(value: Any) -> bool:
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    return isinstance(value, str) and "{{" not in value and "{%" not in value


def check_date_range(start: Any, end: Any) -> tuple[str, str]:
    """iSendPro's ``date_deb``/``date_fin`` for a range, or the validation error (inverted, naive, bad)."""
    from airflow_provider_isendpro.client.endpoints import download_campaign_report

    call = download_campaign_report(start, end, os.devnull)
    return call.fields["date_deb"], call.fields["date_fin"]


def details_path_for(destination: str) -> str:
    """``…/report.zip`` → ``…/report.statuses.json``: the statuses file beside the report."""
    base = destination[:-4] if destination.lower().endswith(".zip") else destination
    return base + ".statuses.json"


class CampaignReportOperator(BaseOperator):
    """Download iSendPro's campaign report (every SMS sent in a date range) and optionally read it.

    The report is a zip holding one CSV (iSendPro ``GET /campagne``), written to ``destination``. With
    ``parse=True`` (implied by ``trackers``) its rows are read by header name, tolerating unknown columns.

    XCom::

        {"path": destination, "size": bytes, "start": "YYYY-MM-DD hh:mm", "end": "YYYY-MM-DD hh:mm",
         # with parse=True or trackers:
         "rows": 42, "columns": [...], "by_status": {"<statut>": count},
         # with trackers:
         "trackers": {"requested": n, "found": k, "missing": n - k},
         "statuses": {"<tracker>": "<statut>" or None},   # None: not in the report
         "details_path": None}

    Beyond ``max_inline`` trackers, ``statuses`` is None and ``details_path`` names a JSON file written
    beside the report (``report.zip`` → ``report.statuses.json``). A tracker seen on several rows keeps
    the last row's status. Dates are French wall time, as iSendPro expects.

    :param destination: where to write the zip: a local path or an object-storage URL (``s3://…``).
        Templated, e.g. ``/data/isendpro/campagne-{{ ds }}.zip``.
    :param start: start of the range (aware datetime, date, or ISO string; strings without an offset
        are French time). Templated. Default: the run's ``data_interval_start``.
    :param end: end of the range, after ``start``. Templated. Default: the run's ``data_interval_end``.
    :param parse: read the CSV and count rows per status.
    :param trackers: the trackers to report on: a list, or a ``SendSmsOperator`` result (its
        ``.output``; mapped sends' results work too). Templated.
    :param max_inline: most per-tracker statuses returned in the XCom itself.
    :param tracker_column: the CSV column holding the tracker (default: found by name, ``tracker``).
    :param status_column: the CSV column holding the status (default: found by name, ``statut``…).
    :param destination_conn_id: Airflow connection for an object-storage ``destination``.
    :param isendpro_conn_id: the iSendPro connection. Templated.
    """

    template_fields: Sequence[str] = ("destination", "start", "end", "trackers", "isendpro_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"trackers": "json"}
    ui_color = "#eaf0fb"

    def __init__(
        self,
        *,
        destination: str,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        parse: bool = False,
        trackers: Any = None,
        max_inline: int = 1000,
        tracker_column: str | None = None,
        status_column: str | None = None,
        destination_conn_id: str | None = None,
        isendpro_conn_id: str = "isendpro_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = check_destination(destination)
        if _is_static(start) and _is_static(end):
            check_date_range(start, end)
        if isinstance(max_inline, bool) or not isinstance(max_inline, int) or max_inline < 0:
            raise IsendproValidationError(
                field="max_inline", value=max_inline, rule="must be a whole number >= 0"
            )
        self.start = start
        self.end = end
        self.parse = parse
        self.trackers = trackers
        self.max_inline = max_inline
        self.tracker_column = tracker_column
        self.status_column = status_column
        self.destination_conn_id = destination_conn_id
        self.isendpro_conn_id = isendpro_conn_id

    def _range(self, context: Context) -> tuple[Any, Any]:
        start = self.start if self.start not in (None, "") else context.get("data_interval_start")
        end = self.end if self.end not in (None, "") else context.get("data_interval_end")
        if start is None or end is None:
            raise IsendproValidationError(
                field="start" if start is None else "end",
                value=None,
                rule="no date range: this run has no data interval (e.g. a manual run of an unscheduled "
                "DAG); pass start= and end=",
            )
        if self.start in (None, "") and self.end in (None, "") and start == end:
            raise IsendproValidationError(
                field="start",
                value=str(start),
                rule="the run's data interval is empty (start == end, e.g. a manual run); "
                "pass start= and end=",
            )
        return start, end

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        destination = check_destination(self.destination)
        start, end = self._range(context)
        date_deb, date_fin = check_date_range(start, end)
        trackers = tracker_list(self.trackers)
        staged = StagedDownload(destination, self.destination_conn_id)
        hook = IsendproHook(self.isendpro_conn_id)
        try:
            self.log.info(
                "Downloading the iSendPro campaign report %s → %s to %s", date_deb, date_fin, destination
            )
            download = hook.client.download_campaign_report(start, end, staged.local)
            staged.publish()
            result: dict[str, Any] = {
                "path": destination,
                "size": download.size,
                "start": date_deb,
                "end": date_fin,
            }
            if self.parse or trackers is not None:
                result.update(self._read(staged.local, trackers, destination))
        finally:
            staged.cleanup()
            hook.close()
        self.log.info(
            "Campaign report: %d bytes%s", result["size"],
            f", {result['rows']} rows, by status {result['by_status']}" if "rows" in result else "",
        )  # fmt: skip
        return result

    def _read(self, local: str, trackers: list[str] | None, destination: str) -> dict[str, Any]:
        from airflow_provider_isendpro.client.reports import iter_report_rows

        wanted: dict[str, str | None] = dict.fromkeys(trackers or ())
        seen: set[str] = set()
        by_status: Counter[str] = Counter()
        columns: list[str] = []
        tracker_col = status_col = None
        rows = 0
        for row in iter_report_rows(local):
            if rows == 0:
                columns = [str(c) for c in row if c is not None]
                tracker_col = find_column(columns, self.tracker_column, TRACKER_COLUMNS)
                status_col = find_column(columns, self.status_column, STATUS_COLUMNS)
                self._check_columns(columns, tracker_col, status_col, need_tracker=trackers is not None)
            rows += 1
            status = row.get(status_col) if status_col is not None else None
            if status is not None:
                by_status[status] += 1
            if wanted and tracker_col is not None:
                tracker = row.get(tracker_col)
                if tracker is not None and tracker in wanted:
                    wanted[tracker] = status
                    seen.add(tracker)
        result: dict[str, Any] = {
            "rows": rows,
            "columns": columns,
            "by_status": dict(sorted(by_status.items())) if status_col is not None or rows == 0 else None,
        }
        if trackers is None:
            return result
        found = len(seen)
        result["trackers"] = {"requested": len(wanted), "found": found, "missing": len(wanted) - found}
        if len(wanted) <= self.max_inline:
            result["statuses"], result["details_path"] = wanted, None
        else:
            path = details_path_for(destination)
            write_text(path, json.dumps(wanted, ensure_ascii=False), self.destination_conn_id)
            self.log.info("%d tracker statuses written to %s", len(wanted), path)
            result["statuses"], result["details_path"] = None, path
        return result

    def _check_columns(
        self, columns: list[str], tracker_col: str | None, status_col: str | None, *, need_tracker: bool
    ) -> None:
        if need_tracker and (tracker_col is None or status_col is None):
            what = "tracker" if tracker_col is None else "status"
            raise IsendproResponseError(
                f"the campaign report has no {what} column among {columns}: pass "
                f"{what}_column= with the right header name"
            )
        if status_col is None:
            self.log.warning(
                "The campaign report has no status column among %s: pass status_column=", columns
            )
