"""Reading the zipped CSV files iSendPro sends back (campaign report, blacklist).

Their layout is undocumented (API-NOTES §11 #14), so rows are read by header, the separator is sniffed,
and unknown columns are kept as they are.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO

from airflow_provider_isendpro.errors import IsendproResponseError

#: Header names tried, in order (case-insensitively), when a column is not named explicitly.
TRACKER_COLUMNS = ("tracker", "trackeur", "id_tracker")
STATUS_COLUMNS = ("statut", "status", "etat", "état", "statut_dlr", "dlr")
NUMBER_COLUMNS = ("tel", "numero", "numéro", "num", "number", "mobile", "telephone", "téléphone")


def find_column(header: Iterable[str], wanted: str | None, candidates: Sequence[str]) -> str | None:
    """The header name matching ``wanted`` (or else the first of ``candidates``), case-insensitively."""
    names = {str(h).strip().lower(): h for h in header if h is not None}
    for name in [wanted] if wanted else candidates:
        found = names.get(name.strip().lower())
        if found is not None:
            return found
    return None


def iter_report_rows(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[dict[str, str]]:
    """Yield each CSV row of an iSendPro zip as a dict keyed by the header row, streaming.

    Uses the zip's single ``.csv`` entry (or its only entry). UTF-8 (with or without BOM) is expected;
    Latin-1 is accepted as a fallback, since French exports often use it.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IsendproResponseError(f"not a readable zip file: {type(exc).__name__}") from None
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        csvs = [n for n in names if n.lower().endswith(".csv")] or names
        if len(csvs) != 1:
            raise IsendproResponseError(f"expected one CSV file in the zip, found {len(csvs)}: {csvs[:5]}")
        raw = archive.read(csvs[0])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    first_line = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first_line.count)
    yield from csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
