"""Reading a send's result back: the rows (tracker, number, status) of a ``SendSmsOperator`` XCom.

Tasks downstream of a send (the delivery sensor, the campaign report) take "what was sent" in every
shape users pass it: the result itself (inline rows, or the ``details_path`` file a large send writes),
a list of results (mapped sends), rows, or bare trackers. One reader serves them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_isendpro.errors import IsendproValidationError

_TRACKER_SPLIT = re.compile(r"[,;\s]+")


def is_remote(location: str) -> bool:
    """True for an object-storage URL (``s3://…``); ``file://`` URLs and plain paths are local."""
    return "://" in location and not location.startswith("file://")


def read_details(path: str) -> Iterator[dict[str, Any]]:
    """A large send's per-recipient rows: the JSON lines at its ``details_path``."""
    if is_remote(path):
        from airflow.sdk import ObjectStoragePath

        text = ObjectStoragePath(path).read_text()
    else:
        with open(path.removeprefix("file://"), encoding="utf-8") as handle:
            text = handle.read()
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def result_rows(
    value: Any, *, field: str = "trackers", refuse_dry_run: bool = False
) -> Iterator[dict[str, Any]]:
    """The rows ``value`` stands for: a send's result (``recipients`` inline, or its ``details_path``), a
    dict holding ``trackers``, a row holding ``tracker``, trackers in a string (separated by commas,
    semicolons or spaces) as ``{"tracker": …}`` rows, or a list of any of these (mapped sends).

    :param refuse_dry_run: a dry run's result sent nothing: refuse it (a task waiting for its SMS would
        wait for nothing) instead of reading its rows.
    :raises IsendproValidationError: naming ``field``, for a value that is none of these.
    """
    if isinstance(value, str):
        yield from ({"tracker": t} for t in _TRACKER_SPLIT.split(value.strip()) if t)
    elif isinstance(value, dict):
        if refuse_dry_run and value.get("dry_run"):
            raise IsendproValidationError(
                f"{field}: a dry run's result (dry_run=True) sent nothing to wait for",
                field=field,
                value=None,
                rule="a dry run sent nothing to wait for",
            )
        if "tracker" in value:
            yield value
        elif "trackers" in value:
            yield from result_rows(value["trackers"], field=field, refuse_dry_run=refuse_dry_run)
        elif isinstance(value.get("recipients"), list):
            yield from value["recipients"]
        elif value.get("details_path"):
            yield from read_details(str(value["details_path"]))
        else:
            raise IsendproValidationError(
                field=field,
                value=value,
                rule="a dict must be a send result (with 'recipients' or 'details_path'), hold "
                "'trackers', or be a row with 'tracker'",
            )
    elif isinstance(value, Iterable):
        for item in value:
            yield from result_rows(item, field=field, refuse_dry_run=refuse_dry_run)
    else:
        raise IsendproValidationError(
            field=field, value=value, rule="must be a list of trackers or a send task's result"
        )
