"""Injected faults: the transport failures a client must survive, on demand and by path.

A fault is armed for the next matching request(s) and then disarms itself, so a test states exactly
which call fails ("the second /smsmulti times out after the server accepted it").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

# Answered instead of running the operation (nothing is sent or billed).
BEFORE_ACCEPT = frozenset(
    {
        "http_500",
        "http_502",
        "http_503",
        "http_429",
        "http_400",
        "hang",
        "reset",
        "html",
        "malformed",
        "empty",
        "no_etat",
        "slow",
    }
)
# The operation runs (SMS recorded, credit taken), then the answer never arrives: the "unknown outcome".
AFTER_ACCEPT = frozenset({"hang_after_accept", "reset_after_accept"})
FAULTS = BEFORE_ACCEPT | AFTER_ACCEPT

FAULT_DOCS: dict[str, str] = {
    "http_500": "HTTP 500 with an HTML body",
    "http_502": "HTTP 502 with an HTML body (a proxy in front of the API)",
    "http_503": "HTTP 503 with an HTML body and Retry-After",
    "http_429": "HTTP 429 with Retry-After and an Erreur body",
    "http_400": "HTTP 400 with an Erreur body (code 'injected')",
    "hang": "no answer before acting (bounded wait, then the connection is closed)",
    "hang_after_accept": "acts (records the SMS, takes the credit), then never answers",
    "reset": "closes the connection (TCP RST) before acting",
    "reset_after_accept": "acts, then closes the connection with no answer",
    "html": "HTTP 200 with an HTML page instead of JSON",
    "malformed": "HTTP 200 with truncated JSON",
    "empty": "HTTP 200 with an empty body",
    "no_etat": "HTTP 200 with JSON lacking the 'etat' object",
    "slow": "answers normally after 'delay' seconds (bounded, released by stop())",
}


def normalise_path(path: str | None) -> str | None:
    """``"smsmulti"``, ``"/smsmulti"`` and ``"/cgi-bin/smsmulti"`` all name the same operation path."""
    if path is None or path in ("", "*"):
        return None
    path = "/" + path.strip("/")
    return path.removeprefix("/cgi-bin") or "/"


@dataclass(slots=True)
class Fault:
    """One armed fault. ``times=None`` fires forever; ``after=k`` lets k matching requests through."""

    name: str
    path: str | None = None
    times: int | None = 1
    after: int = 0
    retry_after: float = 2.0
    delay: float | None = None
    seen: int = 0
    fired: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "fault": self.name,
            "path": self.path,
            "times": self.times,
            "after": self.after,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "fired": self.fired,
        }


class FaultPlan:
    """Thread-safe list of armed faults; the first armed fault matching a request fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        fault: str,
        *,
        path: str | None = None,
        times: int | None = 1,
        after: int = 0,
        retry_after: float = 2.0,
        delay: float | None = None,
    ) -> Fault:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of: {', '.join(sorted(FAULTS))}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1, or None for every matching request")
        if after < 0:
            raise ValueError("after must be >= 0")
        if retry_after < 0 or (delay is not None and delay < 0):
            raise ValueError("retry_after and delay must be >= 0")
        entry = Fault(
            name=fault,
            path=normalise_path(path),
            times=times,
            after=after,
            retry_after=float(retry_after),
            delay=None if delay is None else float(delay),
        )
        with self._lock:
            self._faults.append(entry)
        return entry

    def take(self, path: str) -> Fault | None:
        """The fault to apply to this request, counting it; ``None`` lets the request through."""
        with self._lock:
            chosen: Fault | None = None
            for entry in self._faults:
                if entry.path is not None and entry.path != path:
                    continue
                entry.seen += 1
                if chosen is None and entry.seen > entry.after:
                    chosen = entry
            if chosen is not None:
                chosen.fired += 1
                if chosen.times is not None and chosen.fired >= chosen.times:
                    self._faults.remove(chosen)
            return chosen

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]
