"""``HlrLookupOperator``: ask the networks which numbers exist, before paying to text them.

``/hlr`` is billed: numbers are normalised and de-duplicated first (locally invalid numbers and repeats
are reported, never looked up), then looked up in batches; the client retries a batch only when nothing
reached iSendPro.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_isendpro.errors import IsendproValidationError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_isendpro.client import HlrResult
    from airflow_provider_isendpro.sms import NumberOutcome, PhoneNumber

OUTPUTS = ("all", "valid")


def check_number_inputs(numbers: Any, numbers_file: Any) -> None:
    """Exactly one of ``numbers`` / ``numbers_file``, and not a literal empty list (construction time)."""
    if (numbers is None) == (numbers_file is None):
        raise IsendproValidationError(
            field="numbers",
            value=None,
            rule="give exactly one of numbers= (a list, a string, a template or an XComArg) "
            "or numbers_file= (a file with one number per line)",
        )
    if numbers is not None and _is_empty(numbers):
        raise IsendproValidationError(
            field="numbers", value=numbers, rule="is empty: give at least one phone number"
        )


def _is_empty(numbers: Any) -> bool:
    if isinstance(numbers, str):
        return not numbers.strip(" \t\r\n,;")
    return isinstance(numbers, (list, tuple, set, frozenset)) and len(numbers) == 0


def read_numbers(
    numbers: Any, numbers_file: Any, *, number_field: str, conn_id: str | None
) -> Callable[[], Iterator[str]]:
    """The raw input numbers, from a rendered value or a file (local or object storage), as a re-readable
    stream. An empty input is an error: nothing is left to look up or change.
    """
    from airflow_provider_isendpro.sending.sources import file_source, value_source

    if numbers_file is not None:
        path = str(numbers_file).strip()
        if not path:
            raise IsendproValidationError(field="numbers_file", value=numbers_file, rule="is empty")
        if "://" not in path and not os.path.isfile(path):
            raise IsendproValidationError(
                field="numbers_file", value=path, rule="does not exist or is not a file on this worker"
            )
        source = file_source(path, number_field, conn_id)
    else:
        if numbers is None or _is_empty(numbers):
            raise IsendproValidationError(
                field="numbers", value=numbers, rule="is empty: give at least one phone number"
            )
        try:
            source = value_source(numbers, number_field)
        except IsendproValidationError as exc:  # the parameter here is `numbers`, not `recipients`
            raise IsendproValidationError(field="numbers", value=exc.value, rule=exc.rule) from None
    return lambda: (raw for raw, _fields in source())


def read_outcomes(
    numbers: Any,
    numbers_file: Any,
    *,
    number_field: str,
    conn_id: str | None,
    region: str,
    strict: bool,
    purpose: str,
) -> list[NumberOutcome]:
    """Every input number normalised (valid, invalid or duplicate), for the HLR and blacklist operators.

    An input that holds no number at all is an error naming the parameter: nothing to ``purpose``.
    """
    from airflow_provider_isendpro.sms import normalise_numbers

    raws = read_numbers(numbers, numbers_file, number_field=number_field, conn_id=conn_id)
    outcomes = list(normalise_numbers(raws(), region=region, strict=strict))
    if not outcomes:
        raise IsendproValidationError(
            field="numbers_file" if numbers_file is not None else "numbers",
            value=numbers_file if numbers_file is not None else numbers,
            rule=f"holds no phone number: nothing to {purpose}",
        )
    return outcomes


def _as_batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise IsendproValidationError(field="batch_size", value=value, rule="must be a whole number >= 1")
    return value


class HlrLookupOperator(BaseOperator):
    """Look numbers up in the operators' home location registers (iSendPro ``/hlr``, billed per number).

    Numbers are normalised first: locally invalid numbers and duplicates are reported but never looked
    up (never paid for); a duplicate gets its first occurrence's answer. The rest are looked up in
    batches of ``batch_size``.

    XCom (``output="all"``)::

        {"counts": {"input", "invalid", "duplicate", "looked_up", "valid", "not_valid", "unanswered"},
         "results": [{"input", "number", "operator", "valid", "status", "error"}, ...],  # input order
         "valid_numbers": ["0612345678", ...]}

    ``status`` is ``looked_up``, ``duplicate``, ``invalid`` (``error`` says why) or ``unanswered``
    (iSendPro's answer left the number out; ``valid`` is then None). ``number`` is the wire form sent to
    iSendPro (``06…`` for France, international digits otherwise). With ``output="valid"`` the XCom is
    just ``valid_numbers``, ready for ``SendSmsOperator(recipients=hlr.output)`` or ``.expand``.

    :param numbers: the numbers: a list, a string of numbers separated by commas, semicolons or new
        lines, or rows (dicts) holding the number under ``number_field``. Templated; an ``XComArg``
        works.
    :param numbers_file: instead of ``numbers``: a file with one number per line (``#`` comments
        allowed), or a CSV whose header names ``number_field``; local path or object-storage URL.
        Templated.
    :param number_field: the row field or CSV column holding the number.
    :param output: ``"all"`` (the full result above) or ``"valid"`` (only the list of valid numbers).
    :param batch_size: numbers per ``/hlr`` request.
    :param region: default region for numbers written without a country code.
    :param strict_numbers: accept only allocated number ranges (False: any number of a plausible length).
    :param numbers_file_conn_id: Airflow connection for an object-storage ``numbers_file``.
    :param isendpro_conn_id: the iSendPro connection. Templated.
    """

    template_fields: Sequence[str] = ("numbers", "numbers_file", "isendpro_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"numbers": "json"}
    ui_color = "#eaf0fb"

    def __init__(
        self,
        *,
        numbers: Any = None,
        numbers_file: str | None = None,
        number_field: str = "number",
        output: str = "all",
        batch_size: int = 100,
        region: str = "FR",
        strict_numbers: bool = True,
        numbers_file_conn_id: str | None = None,
        isendpro_conn_id: str = "isendpro_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_number_inputs(numbers, numbers_file)
        if output not in OUTPUTS:
            raise IsendproValidationError(field="output", value=output, rule="must be 'all' or 'valid'")
        self.numbers = numbers
        self.numbers_file = numbers_file
        self.number_field = number_field
        self.output_mode = output  # `output` is BaseOperator's XComArg property
        self.batch_size = _as_batch_size(batch_size)
        self.region = region
        self.strict_numbers = strict_numbers
        self.numbers_file_conn_id = numbers_file_conn_id
        self.isendpro_conn_id = isendpro_conn_id

    def execute(self, context: Context) -> Any:
        from airflow_provider_isendpro.sms import NumberCheck

        outcomes = read_outcomes(
            self.numbers, self.numbers_file, number_field=self.number_field,
            conn_id=self.numbers_file_conn_id, region=self.region, strict=self.strict_numbers,
            purpose="look up",
        )  # fmt: skip
        unique = [o.number for o in outcomes if o.status is NumberCheck.VALID and o.number is not None]
        invalid = sum(1 for o in outcomes if o.status is NumberCheck.INVALID)
        self.log.info(
            "HLR lookup: %d numbers in, %d invalid and %d duplicates left out, %d to look up in %d batch(es)",
            len(outcomes), invalid, len(outcomes) - invalid - len(unique), len(unique),
            -(-len(unique) // self.batch_size),
        )  # fmt: skip
        answers = self._look_up(unique) if unique else {}

        results: list[dict[str, Any]] = []
        for outcome in outcomes:
            if outcome.status is NumberCheck.INVALID or outcome.number is None:
                error = outcome.error.message if outcome.error is not None else "invalid"
                results.append(_entry(outcome.raw, None, None, False, "invalid", error=error))
                continue
            wire = outcome.number.wire
            answer = answers.get(wire)
            status = "duplicate" if outcome.status is NumberCheck.DUPLICATE else "looked_up"
            if answer is None:
                status = "unanswered" if status == "looked_up" else status
                results.append(_entry(outcome.raw, wire, None, None, status, error=None))
            else:
                results.append(_entry(outcome.raw, wire, answer.operator, answer.valid, status, error=None))
        looked_up = [r for r in results if r["status"] in ("looked_up", "unanswered")]
        valid_numbers = [r["number"] for r in looked_up if r["valid"]]
        counts = {
            "input": len(outcomes),
            "invalid": invalid,
            "duplicate": sum(1 for r in results if r["status"] == "duplicate"),
            "looked_up": len(looked_up),
            "valid": len(valid_numbers),
            "not_valid": sum(1 for r in looked_up if r["valid"] is False),
            "unanswered": sum(1 for r in looked_up if r["valid"] is None),
        }
        self.log.info("HLR lookup result: %s", counts)
        if self.output_mode == "valid":
            return valid_numbers
        return {"counts": counts, "results": results, "valid_numbers": valid_numbers}

    def _look_up(self, numbers: list[PhoneNumber]) -> dict[str, HlrResult | None]:
        from airflow_provider_isendpro.errors import IsendproError
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook

        hook = IsendproHook(self.isendpro_conn_id)
        answers: dict[str, HlrResult | None] = {}
        total = -(-len(numbers) // self.batch_size)
        try:
            for number, start in enumerate(range(0, len(numbers), self.batch_size), start=1):
                batch = numbers[start : start + self.batch_size]
                try:
                    found = hook.client.hlr_lookup(batch)
                except IsendproError:
                    self.log.error(
                        "HLR batch %d/%d failed; %d numbers were already looked up (and billed) in the "
                        "batches before it",
                        number, total, start,
                    )  # fmt: skip
                    raise
                answers.update(match_answers(batch, found, self.region))
        finally:
            hook.close()
        return answers


def _entry(
    raw: str, number: str | None, operator: str | None, valid: bool | None, status: str, *, error: str | None
) -> dict[str, Any]:
    return {
        "input": raw,
        "number": number,
        "operator": operator,
        "valid": valid,
        "status": status,
        "error": error,
    }


def match_answers(
    batch: list[PhoneNumber], found: list[HlrResult], region: str
) -> dict[str, HlrResult | None]:
    """Pair iSendPro's answers with the numbers sent, by number (its ``tel`` may be national or
    international), else by position when it answered once per number. Unmatched numbers map to None.
    """
    from airflow_provider_isendpro.sms import normalise_number

    by_wire: dict[str, HlrResult] = {}
    for answer in found:
        try:
            wire = normalise_number(answer.number, region=region, strict=False).wire
        except IsendproValidationError:
            continue
        by_wire.setdefault(wire, answer)
    positional = len(found) == len(batch)
    return {
        number.wire: by_wire.get(number.wire) or (found[index] if positional else None)
        for index, number in enumerate(batch)
    }
