"""One line per request the emulator received, for a person watching it (``python -m ...testing``).

The line is built from the method, the path and the answer only: never from the request body, so the
keyid (which travels in the body, or in the query string of ``/campagne`` and the liste-noire calls) can
never appear in it. Examples::

    POST /cgi-bin/sms -> 200: 1 recipient, 1 segment: 0612345678 sent
    POST /cgi-bin/smsmulti -> 200: 2 recipients, 1 segment: 0612345678 sent, 0600000011 refused (code 11)
    POST /cgi-bin/credit -> 200
    POST /cgi-bin/sms -> 400: refused: code 3, Your credentials are incorrect
    POST /cgi-bin/sms -> fault 'http_500'
    POST /cgi-bin/nope -> 404: no such API operation
    POST /cgi-bn/credit -> 404: not an API path (the API is under /cgi-bin/)
"""

from __future__ import annotations

import json
from typing import Any

#: Recipients named on one line; the rest are counted.
SHOWN_RECIPIENTS = 5


def _entries(value: Any) -> list[dict[str, Any]]:
    """The per-recipient (or error) entries of an iSendPro answer, whatever its envelope."""
    if isinstance(value, dict):
        if "code" in value:
            return [value]
        return [entry for item in value.values() for entry in _entries(item)]
    if isinstance(value, list):
        return [entry for item in value for entry in _entries(item)]
    return []


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe_answer(status: int, body: bytes) -> str:
    """What the answer says, in a few words (recipients and segments for a send)."""
    try:
        entries = _entries(json.loads(body.decode("utf-8"))) if body else []
    except (UnicodeDecodeError, ValueError):
        entries = []
    recipients = [e for e in entries if "tel" in e]
    if recipients:
        segments = sum(int(e.get("smslong") or 0) for e in recipients if str(e.get("code")) == "0")
        shown = [
            f"{e['tel']} sent" if str(e.get("code")) == "0" else f"{e['tel']} refused (code {e.get('code')})"
            for e in recipients[:SHOWN_RECIPIENTS]
        ]
        more = len(recipients) - len(shown)
        if more:
            shown.append(f"+{more} more")
        head = f"{_plural(len(recipients), 'recipient')}, {_plural(segments, 'segment')}"
        return f"{status}: {head}: {', '.join(shown)}"
    errors = [e for e in entries if str(e.get("code")) not in ("0", "")]
    if errors:
        first = errors[0]
        return f"{status}: refused: code {first.get('code')}, {first.get('message', '')}".rstrip(", ")
    if status == 404:
        return "404: no such API operation"
    return str(status)


def format_request(
    method: str, path: str, status: int | None = None, body: bytes = b"", fault: str | None = None
) -> str:
    """The log line: an injected fault, no answer (``status`` None: a magic hang), or the answer."""
    if fault is not None:
        return f"{method} {path} -> fault {fault!r}"
    if status is None:
        return f"{method} {path} -> no answer (hang)"
    return f"{method} {path} -> {describe_answer(status, body)}"
