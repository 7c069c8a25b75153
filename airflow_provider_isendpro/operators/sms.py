"""``SendSmsOperator``: one, many or personalised SMS, sent exactly once across task retries."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeGuard

from airflow.sdk import BaseOperator

from airflow_provider_isendpro.errors import IsendproValidationError

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_isendpro.hooks.isendpro import IsendproHook
    from airflow_provider_isendpro.sending.engine import SendOptions
    from airflow_provider_isendpro.sending.plan import Planner
    from airflow_provider_isendpro.sending.service import SendPolicy
    from airflow_provider_isendpro.sending.task import TaskTry

_CHOICES = {
    "on_invalid": ("fail", "skip"),
    "on_rejected": ("fail", "warn", "ignore"),
    "on_unknown": ("fail", "warn"),
    "quiet_hours": ("fail", "defer"),
}


def _choice(name: str, value: str) -> str:
    if value not in _CHOICES[name]:
        allowed = ", ".join(repr(c) for c in _CHOICES[name])
        raise IsendproValidationError(field=name, value=value, rule=f"must be one of {allowed}")
    return value


def _as_int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise IsendproValidationError(field=name, value=value, rule=f"must be a whole number >= {minimum}")
    return number


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "", "none"):
        return False
    raise IsendproValidationError(field=name, value=value, rule="must be true or false")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _limit(name: str, value: Any, *, whole: bool) -> Any:
    """None, or a number >= 0 (a whole one when ``whole``): caps and prices are never text."""
    if value is None:
        return None
    if not (_is_number(value) and value >= 0 and (isinstance(value, int) if whole else value < math.inf)):
        kind = "a whole number" if whole else "a number"
        raise IsendproValidationError(field=name, value=value, rule=f"must be {kind} >= 0, or None")
    return value


def _is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def _literal(value: Any) -> TypeGuard[str]:
    """A string written as it is in the DAG file (no Jinja): checkable when the file is parsed."""
    return isinstance(value, str) and not _is_template(value)


def _as_recipients(rendered: Any) -> Any:
    """A rendered template that prints a list (``{{ ti.xcom_pull(...) }}`` without native rendering) is
    read back as that list; anything else is kept as rendered."""
    if isinstance(rendered, str) and rendered.strip().startswith("[") and rendered.strip().endswith("]"):
        import ast
        import json

        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(rendered.strip())
            except (ValueError, SyntaxError):
                continue
            if isinstance(parsed, list):
                return parsed
    return rendered


def _spliced(value: Any) -> list[Any]:
    """The items one entry of a ``recipients`` list stands for: a list's items, numbers in a string
    separated by commas, semicolons or new lines, or the value itself."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        from airflow_provider_isendpro.sending.sources import split_numbers

        return list(split_numbers(value))
    return [value]


class SendSmsOperator(BaseOperator):
    """Send SMS through iSendPro: to one number, a list, rows with personal fields, or a file of numbers.

    Every recipient is normalised, validated and de-duplicated, and every message checked (encoding,
    segments) before the first request. Recipients are sent in batches (``/smsmulti``), each recorded in
    a *send ledger* first, so a retried task never texts anyone twice. The XCom result (also pushed as
    ``send_report`` when the task fails) counts every recipient in exactly one bucket.

    Parameters, by what they decide (the same groups as docs/operators.md):

    **Recipients**

    :param recipients: a number, several numbers separated by commas, a list of numbers, or a list of
        rows (dicts) holding a number under ``number_field`` and fields for personalisation. Templated;
        an ``XComArg`` works, also inside a list (a list it returns is spliced in).
    :param recipients_file: a file with one number per line, or a CSV whose header names ``number_field``
        (local path or object-storage URL). Streamed: suited to very large lists.
    :param number_field: the row field (or CSV column) that holds the number.
    :param region: default region for numbers without a country code.
    :param strict_numbers: accept only allocated number ranges (False: any possible number).
    :param allow_landline: send to fixed-line (and VoIP) numbers too, which usually cannot receive SMS.

    **Message**

    :param text: the message, Jinja-templated (or a ``.txt``/``.j2`` template file). Use
        ``{{ recipient.<field> }}`` to personalise it per row.
    :param sender: sender id (``emetteur``), 4-11 letters/digits; default: the connection's ``sender``.
        A custom sender makes iSendPro append its STOP mention (counted in the segments).
    :param nostop: ask iSendPro to leave out the STOP mention (approved non-commercial accounts only).
    :param transliterate: replace characters outside GSM-7 (’ « œ ê …) for French numbers instead of failing.
    :param ucs2_overseas: send non-GSM text as UCS-2 to the French overseas departments (Réunion,
        Guadeloupe, Martinique, French Guiana, Mayotte), which iSendPro allows ("UCS-2 only outside
        metropolitan France") but which get GSM-7 only by default, as metropolitan numbers always do.
    :param max_segments: refuse any message longer than this many SMS parts (1-6).

    **Schedule**

    :param send_at: schedule the send (aware datetime or ISO 8601 string with offset); default now.
    :param marketing: apply the French marketing rules: no sending 20:00-08:00, Sundays or public holidays.
    :param quiet_hours: with ``marketing``: ``"fail"``, or ``"defer"`` to schedule at the next allowed time.

    **Guards** (checked before the first request)

    :param dry_run: plan only: no request; the XCom is the plan (recipients, encoding, segments, cost)
        of exactly the real send: same sender (the connection's default too), STOP mention and texts.
    :param max_recipients: refuse to send to more recipients than this.
    :param max_total_segments: refuse a send that needs more SMS segments than this.
    :param check_credit: read the credit first and refuse a send it cannot cover.
    :param unit_price: price of one segment in euros, for estimates (default: derived from the credit).

    **Outcome policy**

    :param on_invalid: ``"fail"`` (default: nothing is sent if any recipient is invalid; all are listed)
        or ``"skip"`` (send to the valid ones).
    :param on_rejected: when iSendPro refuses some numbers (blacklisted 11, unassigned 21...):
        ``"fail"`` the task after sending to the others, ``"warn"`` or ``"ignore"``.
    :param max_rejected_ratio: stop sending when more than this share of recipients is rejected.
    :param on_unknown: when some recipients are in doubt (a timeout or 5xx after the request left, or a
        worker lost mid-request, on this try or an earlier one): ``"fail"`` the task after sending to
        everyone else (default), or ``"warn"``. They are listed with status ``unknown``.
    :param resend_unknown: on a retry, resend recipients whose earlier outcome is unknown (risk: twice).

    **Connection and storage**

    :param isendpro_conn_id: the iSendPro connection.
    :param sandbox: iSendPro's sandbox flag (None: the connection's setting).
    :param batch_size: recipients per ``/smsmulti`` request.
    :param ledger_path: where the send ledger lives (default ``[isendpro] ledger_path``, else
        ``$AIRFLOW_HOME/isendpro/ledger``). Under a remote executor (Celery, Kubernetes...) it must be
        storage every worker reaches (``s3://…``), or the task refuses to send (see docs/deployment.md).
    :param ledger_conn_id: Airflow connection for an object-storage ledger path (default
        ``[isendpro] ledger_conn_id``, else the storage library's default credentials).
    :param details_path: where per-recipient results go when there are more than ``max_inline``
        (default: beside the ledger).
    :param max_inline: per-recipient results kept in the XCom itself, at most (the name
        ``CampaignReportOperator`` uses for the same idea; it was ``max_inline_results``).

    Literal mistakes (an invalid sender, an invalid number in a literal list, a static text over
    ``max_segments``) raise when the DAG file is parsed, so the UI shows them as import errors; templated
    values are checked when the task runs, before any request.
    """

    template_fields: Sequence[str] = (
        "recipients", "recipients_file", "text", "number_field", "sender", "send_at", "nostop",
        "transliterate", "max_segments", "sandbox", "dry_run", "batch_size", "ledger_path", "details_path",
        "isendpro_conn_id",
    )  # fmt: skip
    template_ext: Sequence[str] = (".txt", ".j2")
    template_fields_renderers: ClassVar[dict[str, str]] = {"text": "jinja", "recipients": "json"}
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        text: str,
        recipients: Any = None,
        recipients_file: str | None = None,
        number_field: str = "number",
        sender: str | None = None,
        send_at: Any = None,
        nostop: bool = False,
        transliterate: bool = False,
        ucs2_overseas: bool = False,
        max_segments: int = 6,
        marketing: bool = False,
        quiet_hours: str = "fail",
        region: str = "FR",
        strict_numbers: bool = True,
        allow_landline: bool = False,
        sandbox: bool | None = None,
        batch_size: int = 500,
        on_invalid: str = "fail",
        on_rejected: str = "fail",
        max_rejected_ratio: float | None = None,
        on_unknown: str = "fail",
        resend_unknown: bool = False,
        dry_run: bool = False,
        max_recipients: int | None = None,
        max_total_segments: int | None = None,
        check_credit: bool = False,
        unit_price: float | None = None,
        ledger_path: str | None = None,
        ledger_conn_id: str | None = None,
        details_path: str | None = None,
        max_inline: int = 100,
        isendpro_conn_id: str = "isendpro_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (recipients is None) == (recipients_file is None):
            raise IsendproValidationError(
                field="recipients", value=None, rule="give exactly one of recipients= or recipients_file="
            )
        if not isinstance(text, str) or not text.strip():
            raise IsendproValidationError(
                field="text", value=text, rule="must be a non-empty message or template"
            )
        self.recipients = recipients
        self.recipients_file = recipients_file
        self.text = text
        self.number_field = number_field
        self.sender = sender
        self.send_at = send_at
        self.nostop = nostop
        self.transliterate = transliterate
        self.ucs2_overseas = ucs2_overseas
        self.max_segments = max_segments
        self.marketing = marketing
        self.quiet_hours = _choice("quiet_hours", quiet_hours)
        self.region = region
        self.strict_numbers = strict_numbers
        self.allow_landline = allow_landline
        self.sandbox = sandbox
        self.batch_size = batch_size
        self.on_invalid = _choice("on_invalid", on_invalid)
        self.on_rejected = _choice("on_rejected", on_rejected)
        if max_rejected_ratio is not None and not (
            _is_number(max_rejected_ratio) and 0 <= max_rejected_ratio <= 1
        ):
            raise IsendproValidationError(
                field="max_rejected_ratio", value=max_rejected_ratio, rule="must be between 0 and 1"
            )
        self.max_rejected_ratio = max_rejected_ratio
        self.on_unknown = _choice("on_unknown", on_unknown)
        self.resend_unknown = _as_bool("resend_unknown", resend_unknown)  # "false" must not mean True
        self.dry_run = dry_run
        self.max_recipients = _limit("max_recipients", max_recipients, whole=True)
        self.max_total_segments = _limit("max_total_segments", max_total_segments, whole=True)
        self.check_credit = check_credit
        self.unit_price = _limit("unit_price", unit_price, whole=False)
        self.ledger_path = ledger_path
        self.ledger_conn_id = ledger_conn_id
        self.details_path = details_path
        self.max_inline = max_inline
        self.isendpro_conn_id = isendpro_conn_id
        self._personalised = False
        self._jinja_env: jinja2.Environment | None = None
        self._check_literals()

    def _check_literals(self) -> None:
        """Raise now, when the DAG file is parsed (an import error in the UI), for mistakes written in it:
        an invalid sender, an invalid number in a literal list (with ``on_invalid="fail"``), a static GSM-7
        text over ``max_segments``. Templated and XCom values are checked when the task runs. No I/O: the
        connection's sender is unknown here, so its STOP mention is counted only when the task runs."""
        from airflow_provider_isendpro.sms import analyse_message, is_gsm, validate_sender

        if getattr(self, "_BaseOperator__from_mapped", False):
            return  # a mapped task built when it runs: its values are the run's, checked by the planner
        sender = self.sender.strip() if _literal(self.sender) else None
        if sender:
            validate_sender(sender)
        text, cap = self.text, self.max_segments
        static = _literal(text) and not text.endswith(tuple(self.template_ext))
        if static and isinstance(cap, int) and not isinstance(cap, bool) and is_gsm(text):
            stop = bool(sender) and self.nostop is False
            analyse_message(text, stop_suffix=stop, max_segments=cap)
        if self.on_invalid == "fail" and isinstance(self.strict_numbers, bool):
            self._check_literal_numbers()

    def _check_literal_numbers(self) -> None:
        from airflow_provider_isendpro.sending.sources import split_numbers
        from airflow_provider_isendpro.sms import normalise_number

        value = self.recipients
        if _literal(value):
            items: list[Any] = split_numbers(value)
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            return
        if items and self.region != "FR":  # a bad region is the region's error, not every number's
            from airflow_provider_isendpro.sms.phones import _check_region

            _check_region(self.region)
        invalid = []
        for index, item in enumerate(items):
            raw = item.get(self.number_field) if isinstance(item, Mapping) else item
            if not _literal(raw):
                continue
            try:
                normalise_number(
                    raw, region=self.region, strict=self.strict_numbers,
                    allow_landline=self.allow_landline is True,
                )  # fmt: skip
            except IsendproValidationError as exc:
                invalid.append(f"#{index} {raw!r}: {exc}")
        if invalid:  # worded as when the task finds them (sending.service), with the same advice
            raise IsendproValidationError(
                f"{len(invalid)} of {len(items)} recipients are invalid and nothing was sent "
                f"(on_invalid='fail'; use on_invalid='skip' to send to the others): " + "; ".join(invalid),
                field="recipients",
                value=len(invalid),
                rule="every recipient must be a valid mobile number",
            )

    # -- templating: `text` is rendered per recipient when it uses {{ recipient... }} -------------------
    #
    # Everything is done in ``_do_render_template_fields``, not ``render_template_fields``: Airflow renders
    # a mapped task (``.partial().expand()``, ``expand_kwargs``) by calling the unmapped task's
    # ``_do_render_template_fields`` directly, and a plain one through ``render_template_fields``, which
    # calls it too (task-sdk 1.1-1.3: Airflow 3.1, 3.2, 3.3). ``seen_oids`` holds the values a mapped task
    # got from XCom: Airflow never renders those as templates, and neither does this.

    def resolve_template_files(self) -> None:
        """Only ``text`` may name a template file (``.txt``/``.j2``): a ``recipients_file`` ending in
        ``.txt`` is data, and is read when the task runs."""
        if isinstance(self.text, str) and self.text.endswith(tuple(self.template_ext)):
            env = self.get_template_env()
            try:
                self.text = env.loader.get_source(env, self.text)[0]
            except Exception:  # not found here: rendering loads it, or says why
                self.log.debug("template file %r not resolved at parse time", self.text)
        self.prepare_template()

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        if parent is not self:  # a nested object's own template fields
            super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
            return
        fields = list(template_fields)
        own = ("text", "recipients", "recipients_file")
        others = [f for f in fields if f not in own]
        super()._do_render_template_fields(self, others, context, jinja_env, seen_oids)
        self._jinja_env = jinja_env
        if "recipients" in fields:
            self.recipients = self._render_recipients(self.recipients, context, jinja_env, seen_oids)
        if "recipients_file" in fields:
            self.recipients_file = self._render_path(self.recipients_file, context, jinja_env, seen_oids)
        if "text" in fields:
            self._render_text(context, jinja_env, seen_oids)

    def _render_string(self, value: str, context: Context, env: jinja2.Environment) -> Any:
        """A Jinja string (never a template file name), natively when the DAG renders natively."""
        return self._render(env.from_string(value), context)

    def _render_text(self, context: Context, env: jinja2.Environment, seen: set[int]) -> None:
        import jinja2.meta

        text = self.text
        if id(text) in seen:  # from XCom (a mapped argument): a message, not a template
            self._personalised = False
            return
        if not isinstance(text, str):  # an XComArg: its value is a message, not a template
            self.text = self.render_template(text, context, env, seen)
            self._personalised = False
            return
        if text.endswith(tuple(self.template_ext)):  # a template file not resolved at parse time
            text = env.loader.get_source(env, text)[0]  # type: ignore[union-attr]
        self._personalised = "recipient" in jinja2.meta.find_undeclared_variables(env.parse(text))
        self.text = text if self._personalised else self._render_string(text, context, env)

    def _render_path(self, value: Any, context: Context, env: jinja2.Environment, seen: set[int]) -> Any:
        """``recipients_file``: a Jinja string or an XComArg, never a template file (it is data)."""
        if value is None or id(value) in seen:
            return value
        if isinstance(value, str):
            return self._render_string(value, context, env) if _is_template(value) else value
        return self.render_template(value, context, env, seen)

    def _render_recipients(
        self, value: Any, context: Context, env: jinja2.Environment, seen: set[int]
    ) -> Any:
        """Resolve ``recipients`` without compiling every row of a large list as Jinja.

        A Jinja string or an XComArg renders as usual (a rendered ``"['06…', '07…']"`` is read as the
        list it shows). In a list, strings holding ``{{``/``{%`` and XComArgs are rendered, a list they
        give is spliced in (``["06…", upstream()]``), and rows (dicts) and plain numbers are data, left as
        they are: Airflow's generic rendering would compile each string of each row (seconds for a few
        thousand rows), and a ``.txt`` string would be read as a template file.
        """
        if value is None or id(value) in seen:
            return value
        if isinstance(value, str):
            return _as_recipients(self._render_string(value, context, env)) if _is_template(value) else value
        if isinstance(value, (list, tuple)):
            out: list[Any] = []
            for item in value:
                if isinstance(item, str):
                    if _is_template(item):
                        out.extend(_spliced(_as_recipients(self._render_string(item, context, env))))
                    else:
                        out.append(item)
                elif (
                    isinstance(item, (int, float, bytes, list, tuple, Mapping))
                    or item is None
                    or id(item) in seen
                ):
                    out.append(item)  # data: a list written inside the list is not a number, and is refused
                else:  # an XComArg (or anything else Airflow knows how to resolve)
                    out.extend(_spliced(self.render_template(item, context, env, seen)))
            return out
        return self.render_template(value, context, env, seen)

    def _renderer(self, context: Context) -> Any:
        from airflow_provider_isendpro.sending.render import compile_renderer

        if not self._personalised:
            text = str(self.text)
            return lambda _fields: text
        return compile_renderer(self._jinja_env or self.get_template_env(), self.text, context)

    # -- execution ----------------------------------------------------------------------------------

    def _source(self) -> Any:
        from airflow_provider_isendpro.sending.sources import file_source, value_source

        if self.recipients_file is not None:  # read with the ledger's credentials (its conn_id)
            from airflow_provider_isendpro.sending.location import resolve_ledger

            conn_id = resolve_ledger(self.ledger_path, self.ledger_conn_id).conn_id
            return file_source(str(self.recipients_file), self.number_field, conn_id)
        recipients = self.recipients
        if recipients is None or recipients in ([], ""):
            raise IsendproValidationError(
                field="recipients", value=recipients, rule="is empty: no one to send to"
            )
        return value_source(recipients, self.number_field)

    def _scope(self, context: Context) -> list[str]:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return [
            self.dag_id,
            str(context["run_id"]),
            self.task_id,
            str(-1 if map_index is None else map_index),
        ]

    def _send_time(self, context: Context) -> Any:
        try:
            return self._scheduled_send()
        except IsendproValidationError as exc:  # name the parameter the user wrote, not the helper's
            if exc.field not in ("when", "at"):
                raise
            # the quiet-hours rule advises its function's `policy`: this operator's parameter is quiet_hours
            rule = exc.rule.replace("policy='defer'", "quiet_hours='defer'")
            raise IsendproValidationError(field="send_at", value=exc.value, rule=rule) from None

    def _scheduled_send(self) -> Any:
        from airflow_provider_isendpro.sms import check_quiet_hours, schedule_send

        when = None if self.send_at in (None, "") else self.send_at  # 0 or False are mistakes, not "now"
        if self.marketing:
            import pendulum

            at = when if when is not None else pendulum.now("UTC")
            moved = check_quiet_hours(at, policy=self.quiet_hours)  # type: ignore[arg-type]
            if moved is not at:
                self.log.warning("marketing SMS deferred to %s (French quiet hours)", moved.isoformat())
                when = moved
        return None if when is None else schedule_send(when)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_isendpro.hooks.isendpro import IsendproHook
        from airflow_provider_isendpro.sending.location import resolve_ledger
        from airflow_provider_isendpro.sending.task import send_for_task

        hook = IsendproHook(self.isendpro_conn_id)
        try:
            planner, options, policy = self._send_settings(hook, context)
            outcome = send_for_task(
                client=lambda: hook.client,
                client_config=hook.config,
                planner=planner,
                source=self._source(),
                options=options,
                policy=policy,
                location=resolve_ledger(self.ledger_path, self.ledger_conn_id),
                task=self._task_try(context),
                details_path=self.details_path,
            )
        finally:
            hook.close()
        self._log_summary(outcome.result)
        if outcome.error is not None:
            from airflow_provider_isendpro.errors import (
                IsendproSupersededError,
                IsendproTryAlreadyRunningError,
            )

            # A try that stopped because another process owns the send leaves the report to that process:
            # Airflow keeps one XCom per task instance, and a try frozen, then resumed after the newer try
            # ended would otherwise replace the final report with its own partial one (its log has it).
            if not isinstance(outcome.error, IsendproSupersededError | IsendproTryAlreadyRunningError):
                context["ti"].xcom_push(key="send_report", value=outcome.result)
            raise outcome.error
        return outcome.result

    def _send_settings(self, hook: IsendproHook, context: Context) -> tuple[Planner, SendOptions, SendPolicy]:
        """The task's parameters as the engine's planner, request options and policy, each checked before
        any I/O (the ledger included), dry run or not."""
        from airflow_provider_isendpro.sending.engine import SendOptions
        from airflow_provider_isendpro.sending.plan import MessageRules, Planner
        from airflow_provider_isendpro.sending.service import SendPolicy
        from airflow_provider_isendpro.sms import validate_sender

        dry_run = _as_bool("dry_run", self.dry_run)
        # a dry run plans what the real send would bill: the connection's sender and its STOP mention too
        sender = self.sender if self.sender is not None else hook.default_sender
        if sender not in (None, ""):
            sender = validate_sender(sender)
        nostop = _as_bool("nostop", self.nostop)
        rules = MessageRules(
            sender=sender or None,
            nostop=nostop,
            max_segments=_as_int("max_segments", self.max_segments, 1),
            transliterate=_as_bool("transliterate", self.transliterate),
            region=self.region,
            strict=_as_bool("strict_numbers", self.strict_numbers),
            allow_landline=_as_bool("allow_landline", self.allow_landline),
            ucs2_overseas=_as_bool("ucs2_overseas", self.ucs2_overseas),
        )
        planner = Planner(
            self._renderer(context),
            personalised=self._personalised,
            rules=rules,
            scope="\x1f".join(self._scope(context)),
        )
        options = SendOptions(
            sender=rules.sender,
            nostop=nostop,
            send_at=self._send_time(context),
            sandbox=None if self.sandbox is None else _as_bool("sandbox", self.sandbox),
            batch_size=_as_int("batch_size", self.batch_size, 1),
            resend_unknown=self.resend_unknown,
            max_rejected_ratio=self.max_rejected_ratio,
        )
        policy = SendPolicy(
            on_invalid=self.on_invalid,  # type: ignore[arg-type]
            on_rejected=self.on_rejected,  # type: ignore[arg-type]
            on_unknown=self.on_unknown,  # type: ignore[arg-type]
            dry_run=dry_run,
            max_recipients=self.max_recipients,
            max_total_segments=self.max_total_segments,
            check_credit=self.check_credit,
            unit_price=self.unit_price,
            max_inline=self.max_inline,
        )
        return planner, options, policy

    def _task_try(self, context: Context) -> TaskTry:
        from airflow_provider_isendpro.sending.task import TaskTry

        ti = context["ti"]
        return TaskTry(
            scope=self._scope(context),
            attempt=int(getattr(ti, "try_number", None) or 1),
            # Airflow's hostname_callable names the worker (two workers of one machine are two hosts here)
            host=str(getattr(ti, "hostname", None) or socket.gethostname()),
        )

    def _log_summary(self, result: dict[str, Any]) -> None:
        if result.get("dry_run"):
            counts = result["counts"]
            self.log.info(
                "dry run, nothing sent: %d planned (%d invalid, %d duplicate), %d segments, %d batches",
                counts["planned"], counts["invalid"], counts["duplicate"], result["segments"]["estimated"],
                result["batches"],
            )  # fmt: skip
            return
        rows = "\n".join(f"  {bucket:<17}{count:>9}" for bucket, count in result["counts"].items())
        self.log.info(
            "iSendPro send summary (%d recipients, %d requests, %d segments billed):\n%s",
            result["input"], result["requests"], result["segments"]["billed"], rows,
        )  # fmt: skip
