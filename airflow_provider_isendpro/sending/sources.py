"""Where recipients come from: a value (one number, a list, rows of fields) or a file, streamed.

A source is re-readable (the engine validates everything in a first pass before sending anything in a
second), and a file is never loaded whole: a million-line list costs one line of memory at a time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from airflow_provider_isendpro.errors import IsendproValidationError

#: One recipient as read: the raw number, and the row's fields for personalisation (None for plain numbers).
SourceItem = tuple[str, Mapping[str, Any] | None]
_SPLIT = re.compile(r"[,;\n]")


def _rows(values: Iterable[Any], number_field: str) -> Iterator[SourceItem]:
    for value in values:
        if isinstance(value, Mapping):
            number = value.get(number_field)
            yield ("" if number is None else str(number)), value
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            yield str(value), None
        else:
            yield repr(value), None  # reported as an invalid number, with its position


def split_numbers(text: str) -> list[str]:
    """The numbers of one string: separated by commas, semicolons or new lines (blanks dropped)."""
    return [p.strip() for p in _SPLIT.split(text) if p.strip()]


def value_source(recipients: Any, number_field: str) -> Callable[[], Iterator[SourceItem]]:
    """Recipients given as a value: ``"0612345678"``, ``"06…, 07…"``, a list of numbers, or rows (dicts).

    A single string may hold several numbers separated by commas, semicolons or new lines.
    """
    if isinstance(recipients, str):
        items: list[Any] = split_numbers(recipients)
    elif isinstance(recipients, Mapping):
        items = [recipients]
    elif isinstance(recipients, Iterable):
        items = recipients if isinstance(recipients, list) else list(recipients)
    else:
        raise IsendproValidationError(
            field="recipients",
            value=recipients,
            rule="must be a phone number, a list of numbers, or a list of rows (dicts) with a number field",
        )
    return lambda: _rows(items, number_field)


@contextmanager
def _open_text(path: str, conn_id: str | None) -> Iterator[IO[str]]:
    if "://" in path and not path.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        with ObjectStoragePath(path, conn_id=conn_id).open("rb") as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        return
    with open(path.removeprefix("file://"), encoding="utf-8-sig", newline="") as handle:
        yield handle


def _file_items(path: str, number_field: str, conn_id: str | None) -> Iterator[SourceItem]:
    with _open_text(path, conn_id) as handle:
        first = handle.readline()
        header_cells = [c.strip() for c in re.split(r"[;,\t]", first.strip())]
        if number_field in header_cells:
            delimiter = max(";,\t", key=first.count)
            reader = csv.DictReader(handle, fieldnames=header_cells, delimiter=delimiter)
            for row in reader:
                yield str(row.get(number_field) or ""), row
            return
        for line in [first] if first else []:
            yield from _plain_lines([line])
        yield from _plain_lines(handle)


def _plain_lines(lines: Iterable[str]) -> Iterator[SourceItem]:
    for line in lines:
        text = line.strip()
        if text and not text.startswith("#"):
            yield text, None


def file_source(
    path: str, number_field: str, conn_id: str | None = None
) -> Callable[[], Iterator[SourceItem]]:
    """Recipients from a file: one number per line (``#`` comments and blank lines skipped), or a CSV
    whose header row names ``number_field`` (``;``, ``,`` or tab separated; other columns are fields).

    ``path`` may be local or any Airflow object-storage URL (``s3://…``, read with ``conn_id``).
    """
    if not isinstance(path, str) or not path.strip():
        raise IsendproValidationError(field="recipients_file", value=path, rule="must be a file path or URL")
    path = path.strip()  # checked as read: a templated path often ends with a new line
    if "://" not in path or path.startswith("file://"):
        import os

        if not os.path.isfile(path.removeprefix("file://")):
            raise IsendproValidationError(
                field="recipients_file", value=path, rule="does not exist or is not a file on this worker"
            )
    return lambda: _file_items(path, number_field, conn_id)
