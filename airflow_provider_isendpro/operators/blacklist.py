"""Blacklist (liste noire) operators: add numbers, remove numbers, download the list.

iSendPro does not route SMS to a blacklisted number (code 11). Add and remove are safe to repeat, so a
retried task simply does the same again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_isendpro.operators.hlr import check_number_inputs, read_outcomes
from airflow_provider_isendpro.operators.reports import check_destination

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_isendpro.client import BlacklistChange, IsendproClient
    from airflow_provider_isendpro.sms import PhoneNumber

#: Header names (lower case) tried, in order, for the number column of the downloaded blacklist.


class _BlacklistChangeOperator(BaseOperator):
    """Shared by add and remove: normalise, then one iSendPro call per distinct number."""

    action: ClassVar[str]
    template_fields: Sequence[str] = ("numbers", "numbers_file", "isendpro_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"numbers": "json"}
    ui_color = "#f4ece8"

    def __init__(
        self,
        *,
        numbers: Any = None,
        numbers_file: str | None = None,
        number_field: str = "number",
        region: str = "FR",
        strict_numbers: bool = False,
        fail_on_error: bool = True,
        numbers_file_conn_id: str | None = None,
        isendpro_conn_id: str = "isendpro_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_number_inputs(numbers, numbers_file)
        self.numbers = numbers
        self.numbers_file = numbers_file
        self.number_field = number_field
        self.region = region
        self.strict_numbers = strict_numbers
        self.fail_on_error = fail_on_error
        self.numbers_file_conn_id = numbers_file_conn_id
        self.isendpro_conn_id = isendpro_conn_id

    def _call(self, client: IsendproClient, number: PhoneNumber) -> BlacklistChange:
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_isendpro.errors import IsendproApiError, IsendproAuthError, IsendproError
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook
        from airflow_provider_isendpro.sms import NumberCheck

        outcomes = read_outcomes(
            self.numbers, self.numbers_file, number_field=self.number_field,
            conn_id=self.numbers_file_conn_id, region=self.region, strict=self.strict_numbers,
            purpose="change",
        )  # fmt: skip
        entries: list[dict[str, Any]] = []
        hook = IsendproHook(self.isendpro_conn_id)
        try:
            for done, outcome in enumerate(outcomes):
                if outcome.status is not NumberCheck.VALID or outcome.number is None:
                    wire = outcome.number.wire if outcome.number is not None else None
                    detail = outcome.error.message if outcome.error is not None else None
                    entries.append(_entry(outcome.raw, wire, outcome.status.value, detail))
                    continue
                try:
                    change = self._call(hook.client, outcome.number)
                except IsendproAuthError:
                    raise
                except IsendproApiError as exc:  # this number refused; the others may still go through
                    entries.append(_entry(outcome.raw, outcome.number.wire, "failed", exc.message))
                    continue
                except IsendproError:
                    self.log.error(
                        "Blacklist %s stopped after %d of %d numbers", self.action, done, len(outcomes)
                    )
                    raise
                status = "done" if change.ok else "failed"
                detail = None if change.ok else f"iSendPro answered listeNoire={change.status!r}"
                entries.append(_entry(outcome.raw, outcome.number.wire, status, detail))
        finally:
            hook.close()
        counts = {"input": len(outcomes)}
        for key in ("done", "failed", "invalid", "duplicate"):
            counts[key] = sum(1 for e in entries if e["status"] == key)
        result = {"action": self.action, "counts": counts, "numbers": entries}
        self.log.info("Blacklist %s: %s", self.action, counts)
        if counts["failed"] and self.fail_on_error:
            context["ti"].xcom_push(key="blacklist_result", value=result)
            failed = [e["number"] for e in entries if e["status"] == "failed"]
            raise IsendproApiError(
                f"blacklist {self.action}: iSendPro refused {counts['failed']} of {counts['input']} numbers "
                f"({', '.join(failed[:10])}{'…' if len(failed) > 10 else ''}); the others were done. "
                "Details in the 'blacklist_result' XCom; set fail_on_error=False to only report"
            )
        return result


def _entry(raw: str, number: str | None, status: str, detail: str | None) -> dict[str, Any]:
    return {"input": raw, "number": number, "status": status, "detail": detail}


_CHANGE_DOC = """

    Numbers are normalised and de-duplicated first; locally invalid numbers and repeats are reported,
    not sent. Then one call per distinct number.

    XCom::

        {{"action": "{action}",
         "counts": {{"input", "done", "failed", "invalid", "duplicate"}},   # they add up to input
         "numbers": [{{"input", "number", "status", "detail"}}, ...]}}      # input order

    ``status`` is ``done``, ``failed`` (iSendPro refused it: ``detail`` says why), ``invalid`` or
    ``duplicate``. Authentication and transport errors stop the task (it is safe to retry).

    :param numbers: the numbers: a list, a string of numbers separated by commas, semicolons or new
        lines, or rows (dicts) holding the number under ``number_field``. Templated; an ``XComArg`` works.
    :param numbers_file: instead of ``numbers``: a file with one number per line, or a CSV whose header
        names ``number_field``; local path or object-storage URL. Templated.
    :param number_field: the row field or CSV column holding the number.
    :param region: default region for numbers written without a country code.
    :param strict_numbers: accept only allocated number ranges. Off by default: a number in a range the
        ``phonenumbers`` metadata does not know yet is still {action_ed}.
    :param fail_on_error: fail the task (after trying every number) when iSendPro refused any; the
        result is then pushed as the ``blacklist_result`` XCom.
    :param numbers_file_conn_id: Airflow connection for an object-storage ``numbers_file``.
    :param isendpro_conn_id: the iSendPro connection. Templated.
    """


class BlacklistAddOperator(_BlacklistChangeOperator):
    action = "add"
    __doc__ = (
        "Add numbers to the account's blacklist (iSendPro ``POST /setlistenoire``)."
        + _CHANGE_DOC.format(action="add", action_ed="added")
    )

    def _call(self, client: IsendproClient, number: PhoneNumber) -> BlacklistChange:
        return client.blacklist_add(number)


class BlacklistRemoveOperator(_BlacklistChangeOperator):
    action = "remove"
    __doc__ = (
        "Remove numbers from the account's blacklist (iSendPro ``POST /dellistenoire``)."
        + _CHANGE_DOC.format(action="remove", action_ed="removed")
    )

    def _call(self, client: IsendproClient, number: PhoneNumber) -> BlacklistChange:
        return client.blacklist_remove(number)


class BlacklistDownloadOperator(BaseOperator):
    """Download the account's blacklist (iSendPro ``POST /getlistenoire``), a zipped CSV.

    XCom: ``{"path": destination, "size": bytes}``, plus with ``parse=True``
    ``{"count": n, "numbers": ["0612345678", ...]}`` (numbers as iSendPro lists them).

    :param destination: where to write the zip: a local path or an object-storage URL. Templated.
    :param parse: also read the numbers from the CSV into the XCom.
    :param number_column: the CSV column holding the number (default: found by name, ``tel``…).
    :param destination_conn_id: Airflow connection for an object-storage ``destination``.
    :param isendpro_conn_id: the iSendPro connection. Templated.
    """

    template_fields: Sequence[str] = ("destination", "isendpro_conn_id")
    ui_color = "#f4ece8"

    def __init__(
        self,
        *,
        destination: str,
        parse: bool = False,
        number_column: str | None = None,
        destination_conn_id: str | None = None,
        isendpro_conn_id: str = "isendpro_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = check_destination(destination)
        self.parse = parse
        self.number_column = number_column
        self.destination_conn_id = destination_conn_id
        self.isendpro_conn_id = isendpro_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook
        from airflow_provider_isendpro.operators.reports import StagedDownload

        destination = check_destination(self.destination)
        staged = StagedDownload(destination, self.destination_conn_id)
        hook = IsendproHook(self.isendpro_conn_id)
        try:
            download = hook.client.download_blacklist(staged.local)
            staged.publish()
            result: dict[str, Any] = {"path": destination, "size": download.size}
            if self.parse:
                numbers = self._numbers(staged.local)
                result.update(count=len(numbers), numbers=numbers)
        finally:
            staged.cleanup()
            hook.close()
        self.log.info(
            "Blacklist downloaded to %s (%d bytes%s)",
            destination,
            result["size"],
            f", {result['count']} numbers" if self.parse else "",
        )
        return result

    def _numbers(self, local: str) -> list[str]:
        from airflow_provider_isendpro.client.reports import NUMBER_COLUMNS, find_column, iter_report_rows
        from airflow_provider_isendpro.errors import IsendproResponseError

        numbers: list[str] = []
        column: str | None = None
        for row in iter_report_rows(local):
            if column is None:
                header = [str(c) for c in row if c is not None]
                column = find_column(header, self.number_column, NUMBER_COLUMNS)
                if column is None:
                    if self.number_column is not None or not header:
                        raise IsendproResponseError(
                            f"the blacklist has no {self.number_column or 'number'} column among {header}: "
                            "pass number_column= with the right header name"
                        )
                    column = header[0]
                    self.log.warning("No known number column among %s: reading %r", header, column)
            value = (row.get(column) or "").strip()
            if value:
                numbers.append(value)
        return numbers
