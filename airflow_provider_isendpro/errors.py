"""The one error tree of the provider.

Every error the provider raises derives from :class:`IsendproError` and carries the same attributes, so
that a DAG author can catch one class and still act on the details. Errors are picklable (Airflow ships
them between processes) and their text never contains the API key, a request URL or a request body.
"""

from __future__ import annotations

from typing import Any

_SHORTEN_AT = 60


def shorten(value: object, limit: int = _SHORTEN_AT) -> str:
    """Render ``value`` for an error message, cut to ``limit`` characters so a huge input stays readable."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return text[: limit - 5] + "…" + text[-4:]


class IsendproError(Exception):
    """Base of every error raised by the iSendPro provider.

    :param message: what went wrong and what to do about it, for a human.
    :param code: iSendPro's return code (``etat.code``) when the API gave one, as an int.
    :param http_status: the HTTP status of the response, when there was one.
    :param recipient: the phone number the error is about, when it is about one.
    :param retryable: whether trying the same call again later may succeed without a change.
    """

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        recipient: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.recipient = recipient
        self.retryable = self.default_retryable if retryable is None else retryable

    def _state(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "http_status": self.http_status,
            "recipient": self.recipient,
            "retryable": self.retryable,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments are not restored by BaseException's default pickling.
        return (_rebuild, (type(self), self.message, {**self._state(), **self._extra_state()}))

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        details = ", ".join(f"{k}={v!r}" for k, v in self._state().items() if v is not None)
        return f"{type(self).__name__}({self.message!r}{', ' if details else ''}{details})"


def _rebuild(cls: type[IsendproError], message: str, state: dict[str, Any]) -> IsendproError:
    return cls(message, **state)


class IsendproConfigError(IsendproError, ValueError):
    """The connection or client configuration is unusable (missing key, bad URL, bad timeout...)."""


class IsendproValidationError(IsendproError, ValueError):
    """Input that iSendPro would reject (or that would be billed wrongly) was caught before any request.

    :param field: the parameter at fault (``"text"``, ``"recipients"``, ``"sender"``...).
    :param value: the offending value (kept short in the message).
    :param rule: the rule it breaks, in words.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str,
        value: object = None,
        rule: str = "",
        code: int | None = None,
        http_status: int | None = None,
        recipient: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        if message is None:
            message = f"{field}={shorten(value)}: {rule}"
        super().__init__(
            message, code=code, http_status=http_status, recipient=recipient, retryable=retryable
        )

    def _extra_state(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "rule": self.rule}


class IsendproApiError(IsendproError):
    """iSendPro refused the whole request (HTTP 400 ``Erreur``, or an error entry without ``tel``).

    ``code`` and the API's message are kept verbatim.
    """


class IsendproAuthError(IsendproApiError):
    """iSendPro refused the API key (code 3), or the caller's IP is not on the account's allow-list."""


class IsendproRecipientError(IsendproApiError):
    """iSendPro refused one recipient (code 11 blacklisted, 21 not assigned...) while accepting the call."""


class IsendproCreditError(IsendproError):
    """The account's credit cannot cover a send; nothing was sent.

    Raised before any request when the planned send costs more than the credit, and (as
    :class:`IsendproCreditRefusedError`) when iSendPro itself refuses a request for want of credit."""


class IsendproCreditRefusedError(IsendproApiError, IsendproCreditError):
    """iSendPro refused the request for want of credit (a code of the connection's ``credit_error_codes``
    extra, default 10): both an :class:`IsendproApiError` (``code`` and message verbatim) and an
    :class:`IsendproCreditError`, so either ``except`` catches it."""


class IsendproTransportError(IsendproError):
    """The exchange with iSendPro failed below the API level: network, 5xx, 429, unreadable body."""

    default_retryable = True


class IsendproConnectError(IsendproTransportError):
    """The connection could not be opened: nothing reached iSendPro, so any call may be retried."""


class IsendproServerError(IsendproTransportError):
    """iSendPro answered with an HTTP 5xx."""


class IsendproRateLimitError(IsendproTransportError):
    """iSendPro answered HTTP 429. ``retry_after`` is the wait it asked for, in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)

    def _extra_state(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


class IsendproResponseError(IsendproTransportError):
    """The response could not be understood: not JSON, no ``etat`` envelope, or an unexpected shape."""


class IsendproTimeoutError(IsendproTransportError):
    """No answer within the read timeout for a call that is safe to repeat."""


class IsendproUnknownOutcomeError(IsendproTransportError):
    """A call that costs money or changes state may or may not have been carried out.

    The request left the worker but no usable answer came back (read timeout, connection reset, 5xx,
    unreadable body). It is never retried automatically: resending could text everyone twice.
    """

    default_retryable = False


class IsendproSupersededError(IsendproError):
    """A newer try of this task has claimed the send: this (older) try stops before its next request.

    Its remaining recipients are reported ``not_sent``; the newer try sends them (see
    :mod:`airflow_provider_isendpro.sending.fencing`)."""


class IsendproTryAlreadyRunningError(IsendproError):
    """This very try of the task is already running in another live process: this process sends nothing.

    The executor started the same try twice (a Celery message delivered again while its first delivery
    still runs). Not a configuration mistake: the other process carries the send on (see
    :mod:`airflow_provider_isendpro.sending.fencing`)."""
