"""Rendering the notifier's templated fields for one callback, without touching the notifier itself.

The DAG processor reuses one notifier object for every DAG-level callback of a DAG, so rendering works
on a copy. A ``text`` that does not render falls back to the default text (logged): an alert with a
generic text beats none. Any other field that does not render (``to``, ``sender``, the connection id)
aborts the alert (logged), since there is no sensible default for it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from airflow_provider_isendpro.notifications.context import add_accessors
from airflow_provider_isendpro.notifications.event import context_exception, exception_summary
from airflow_provider_isendpro.notifications.fallback import AlertNotBuilt
from airflow_provider_isendpro.notifications.text import redact

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_isendpro.notifications.sms import IsendproNotifier


def template_env(notifier: IsendproNotifier, dag: Any) -> jinja2.Environment:
    """The DAG's template environment when there is a usable one, else a plain sandboxed one."""
    # A DAG-level callback under dag.test() gets a SerializedDAG without get_template_env
    # (apache/airflow#64649): fall back to a plain sandboxed environment instead of failing.
    if dag is not None and callable(getattr(dag, "get_template_env", None)):
        try:
            env: jinja2.Environment = notifier.get_template_env(dag=dag)
            return env
        except Exception as exc:
            notifier.log.warning("DAG template environment unavailable (%s); using a plain one", exc)
    plain: jinja2.Environment = notifier.get_template_env()
    return plain


def render(notifier: IsendproNotifier, context: Context) -> tuple[IsendproNotifier, dict[str, Any]]:
    """A rendered copy and the context it saw; ``notifier`` stays a template.

    :raises AlertNotBuilt: a field other than ``text`` failed to render (logged).
    """
    ctx: dict[str, Any] = dict(context)  # Airflow's dict is passed on to other callbacks: untouched
    ctx.setdefault("exception_summary", exception_summary(context_exception(ctx)))
    add_accessors(ctx)
    rendered = copy.copy(notifier)
    env = template_env(notifier, ctx.get("dag"))
    for field in notifier.template_fields:
        try:
            notifier._do_render_template_fields(rendered, [field], ctx, env, set())
        except Exception as exc:
            summary = f"{type(exc).__name__}: {exc}"
            if field == "text":
                notifier.log.error(
                    "iSendPro alert: the text template failed to render (%s); sending the default "
                    "alert text instead", redact(summary),
                )  # fmt: skip
                rendered.text = None
            else:
                notifier.log.error(
                    "iSendPro alert NOT sent: template field %r failed to render (%s)",
                    field,
                    redact(summary),
                )
                raise AlertNotBuilt from None
    return rendered, ctx
