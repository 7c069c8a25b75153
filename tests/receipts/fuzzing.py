"""The receiver's fuzz contract, shared by ``test_fuzz.py`` (a few hundred examples) and
``bench/fuzz_receipts.py`` (the long run, with figures).

A :class:`ReceiverCase` is one HTTP request (sometimes sent twice): a method, a secret (right, near
miss, wrong, missing, oversized, with extra segments, junk), parameters (the three a receipt needs,
valid or not, repeated, renamed, drowned in extras, or a junk query string), sometimes a POST body, and
the receiver's configured method. :func:`check` sends it through httpx's ASGI transport to the receiver
mounted under ``/isendpro`` and asserts:

* never a 5xx, never an exception out of the app;
* a wrong or missing secret gets exactly the unknown path's 404; a method the configuration does not
  allow, with the right secret, gets 405; and in both cases nothing is stored;
* a ``valid`` case (by :func:`makes_a_receipt`, the oracle) is stored (200 ``stored``, or ``already
  stored`` for a receipt seen before); an ``invalid`` one is refused with 400, 413, 414 or 415 and
  nothing is stored; a junk query string or binary body may go either way, never a 5xx;
* what is stored is exactly what was sent (tracker, number, raw ``statut``), and a second sending of
  the same request stores nothing;
* the secret is in no answer (body or headers) and in no log line.
"""

from __future__ import annotations

import logging
import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from hypothesis import strategies as st

from airflow_provider_isendpro.receipts.model import NUMBER_PATTERN, RAW_STATUS_PATTERN, TRACKER_PATTERN

SECRET = "FAKE-fuzz-secret-0123456789abcdef"
PARAMS = ("tel", "statut", "tracker")
MAX_QUERY = 2048
MAX_PARAMS = 16
#: A few trackers drawn often, so that receipts repeat (replays) across examples.
POOL = ("trk0001", "trk0002", "A1b2C3")

VALID = "valid"
INVALID = "invalid"
WRONG_SECRET = "wrong-secret"
WRONG_METHOD = "wrong-method"
ANY = "any"


@dataclass(frozen=True)
class ReceiverCase:
    method: str
    configured_method: str
    secret_kind: str
    path_secret: str
    pairs: tuple[tuple[str, str], ...] | None  # None: ``raw_query`` instead
    raw_query: str
    body: bytes | None
    content_type: str | None
    repeat: bool
    label: str = field(default=ANY)


_url_safe = st.text(alphabet=string.ascii_letters + string.digits + "._~-", min_size=1, max_size=60)
_junk = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="latin-1"), max_size=80),
    st.sampled_from(["", " ", "0", "-1", "+", "%", "%00", "\x00", "\n", "é", "０", "٣", "1e5", "null"]),
    st.builds(lambda c, n: c * n, st.sampled_from("9aZ%é"), st.integers(2048, 5000)),
)
# (plain alphabets rather than st.from_regex: drawing is most of a case's cost)
_ALNUM = string.ascii_letters + string.digits
_numbers = st.builds(
    str.__add__, st.sampled_from(["", "", "+"]), st.text(alphabet=string.digits, min_size=3, max_size=20)
)
_statuts = st.one_of(
    st.sampled_from(["0", "1", "2", "3", "DELIVRD", "NON DELIVRE", "9:unknown/x"]),
    st.text(alphabet=_ALNUM + "_.:/+-", min_size=1, max_size=64),
)
_trackers = st.one_of(st.sampled_from(POOL), st.text(alphabet=_ALNUM, min_size=1, max_size=49))
_valid_values = {"tel": _numbers, "statut": _statuts, "tracker": _trackers}
_names = st.one_of(
    st.sampled_from(["tel", "statut", "tracker", "TEL", "Statut", "tracker ", "tel[]", "msgid", "date", ""]),
    st.text(max_size=12),
)


@st.composite
def _secret(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["right"] * 14 + ["near", "wrong", "missing", "long", "extra", "junk"]))
    if kind == "right":
        return kind, SECRET
    if kind == "near":
        at = draw(st.integers(0, len(SECRET) - 1))
        other = draw(st.sampled_from([c for c in "aZ0-~" if c != SECRET[at]]))
        return kind, SECRET[:at] + other + SECRET[at + 1 :]
    if kind == "wrong":
        return kind, draw(_url_safe.filter(lambda s: s != SECRET))
    if kind == "missing":
        return kind, ""
    if kind == "long":
        return kind, SECRET * draw(st.integers(2, 300))
    if kind == "extra":
        return kind, SECRET + "/" + draw(_url_safe)
    return kind, quote(draw(st.text(min_size=1, max_size=30)), safe="")


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    """The three parameters, each good, bad, missing or twice, among extras, in any order."""
    pairs: list[tuple[str, str]] = []
    for name in PARAMS:
        choice = draw(st.sampled_from(["good"] * 5 + ["bad", "missing", "twice"]))
        if choice == "missing":
            continue
        value = draw(_valid_values[name]) if choice != "bad" else draw(_junk)
        pairs.append((name, value))
        if choice == "twice":
            pairs.append((name, draw(st.one_of(st.just(value), _valid_values[name]))))
    if draw(st.integers(0, 3)):
        pairs += draw(st.lists(st.tuples(_names, _junk), max_size=2))
    else:  # many short extras, around the 16-parameter bound
        short = st.tuples(st.builds("x{}".format, st.integers(0, 999)), st.text(max_size=3))
        pairs += draw(st.lists(short, min_size=10, max_size=16))
    return tuple(draw(st.permutations(pairs)))


def _value_ok(name: str, value: str) -> bool:
    pattern = {"tel": NUMBER_PATTERN, "statut": RAW_STATUS_PATTERN, "tracker": TRACKER_PATTERN}[name]
    return pattern.fullmatch(value) is not None


def makes_a_receipt(pairs: tuple[tuple[str, str], ...]) -> bool:
    """The oracle: at most 16 parameters, each of the three exactly once with a value of its pattern."""
    if len(pairs) > MAX_PARAMS:
        return False
    for name in PARAMS:
        values = [value for key, value in pairs if key == name]
        if len(values) != 1 or not _value_ok(name, values[0]):
            return False
    return True


@st.composite
def receiver_cases(draw: st.DrawFn) -> ReceiverCase:
    configured = draw(st.sampled_from(["GET"] * 4 + ["POST", "ANY"]))
    if draw(st.integers(0, 9)) < 7:  # mostly a method the configuration allows
        method = draw(st.sampled_from(["GET", "POST"] if configured == "ANY" else [configured]))
    else:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
    kind, path_secret = draw(_secret())
    raw_query = ""
    pairs: tuple[tuple[str, str], ...] | None = None
    certain = True  # the oracle knows the answer (not for junk query strings and binary bodies)
    if draw(st.integers(0, 9)) == 0:  # a junk query string
        raw_query = draw(st.text(alphabet=st.characters(codec="ascii"), max_size=300))
        certain, valid = False, False
    else:
        pairs = draw(_pairs())
        valid = makes_a_receipt(pairs) and len(urlencode(pairs)) <= MAX_QUERY
    body: bytes | None = None
    content_type: str | None = None
    if method == "POST" and pairs is not None and draw(st.booleans()):  # the parameters in a form body
        body = urlencode(pairs).encode()
        content_type = draw(
            st.sampled_from(["application/x-www-form-urlencoded"] * 4 + ["application/json", "text/plain"])
        )
        valid = makes_a_receipt(pairs) and len(body) <= MAX_QUERY
        valid = valid and content_type == "application/x-www-form-urlencoded"
        pairs = ()
    elif method == "POST" and draw(st.integers(0, 4)) == 0:
        body = draw(st.binary(max_size=3000))
        content_type = draw(
            st.sampled_from(["application/x-www-form-urlencoded", "application/octet-stream"])
        )
        certain = certain and not body
    allowed = method in ("GET", "POST") and (configured == "ANY" or configured == method)
    if kind != "right":
        label = WRONG_SECRET
    elif not allowed:
        label = WRONG_METHOD
    elif not certain:
        label = ANY
    else:
        label = VALID if valid else INVALID
    return ReceiverCase(
        method,
        configured,
        kind,
        path_secret,
        pairs,
        raw_query,
        body,
        content_type,
        draw(st.booleans()),
        label,
    )


class _Lines(logging.Handler):
    """Every log record's text (message and arguments), from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class ReceiverEnv:
    """The receiver with its settings in the environment and a ledger folder; collects log lines."""

    def __init__(self, ledger: Path) -> None:
        from tests.receipts.conftest import Client, mounted

        self.ledger = ledger
        os.environ["AIRFLOW__ISENDPRO__LEDGER_PATH"] = str(ledger)
        os.environ["AIRFLOW__ISENDPRO__DLR_SECRET"] = SECRET
        self.client = Client(mounted())
        self.log = _Lines()

    def __enter__(self) -> ReceiverEnv:
        # The first request may set Airflow's logging up, which replaces the root logger's handlers:
        # send one before listening (the check asserts that the handler is still there).
        self.client.get("/isendpro/dlr/warm-up")
        logging.getLogger().addHandler(self.log)
        logging.getLogger("airflow_provider_isendpro").setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.log)
        for name in ("LEDGER_PATH", "DLR_SECRET", "DLR_METHOD"):
            os.environ.pop(f"AIRFLOW__ISENDPRO__{name}", None)

    def journal_bytes(self) -> int:
        root = self.ledger / "_receipts"
        return sum(p.stat().st_size for p in root.glob("*/journal.jsonl")) if root.exists() else 0

    def send(self, case: ReceiverCase) -> Any:
        # a junk query keeps its '%' sequences (valid or not) and separators; httpx refuses the rest raw
        junk = quote(case.raw_query, safe="=&;+%/?:@!$'()*,~")
        query = urlencode(case.pairs) if case.pairs is not None else junk
        url = f"/isendpro/dlr/{case.path_secret}" + (f"?{query}" if query else "")
        headers = {"content-type": case.content_type} if case.content_type else {}
        return self.client.request(case.method, url, content=case.body, headers=headers)


def _sent_params(case: ReceiverCase) -> dict[str, str]:
    from urllib.parse import parse_qsl

    pairs = list(case.pairs or ())
    if case.body is not None:
        pairs += parse_qsl(case.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: value for name, value in pairs if name in PARAMS}


def check(env: ReceiverEnv, case: ReceiverCase) -> str:
    """Send ``case`` (twice if it says so) and check the contract; the outcome: ``stored``, ``replay``
    (200, already stored) or the refusal's status (``"404"``...). Raises ``AssertionError``."""
    from airflow_provider_isendpro.receipts.model import DeliveryReceipt
    from airflow_provider_isendpro.receipts.store import ReceiptStore, record_name, shard_of
    from airflow_provider_isendpro.record_store import LocalRecordStore

    os.environ["AIRFLOW__ISENDPRO__DLR_METHOD"] = case.configured_method
    before = env.journal_bytes()
    logged = len(env.log.lines)
    try:
        answer = env.send(case)
    except httpx.InvalidURL:  # over httpx's 65,536 characters: no server would take it either
        return "unsendable"
    status, text = answer.status_code, answer.text
    assert env.log in logging.getLogger().handlers, "log lines are no longer collected"
    assert status < 500, f"{status} {text!r}"
    assert SECRET not in text and SECRET not in str(answer.headers), "the secret is in the answer"
    for line in env.log.lines[logged:]:
        assert SECRET not in line and SECRET[:20] not in line, f"the secret is in a log line: {line[:200]!r}"
    if case.label == WRONG_SECRET:
        # (a path the test's root cannot route to the mount, e.g. with a newline, gets the root's own
        # "Not Found": that request never reached the receiver)
        expected = {""} if case.method == "HEAD" else {"Not Found\n", "Not Found"}
        assert status == 404 and text in expected, (status, text)
    elif case.label == WRONG_METHOD:
        assert status == 405, (status, text)
    elif case.label == VALID:
        assert status == 200, (status, text)
    elif case.label == INVALID:
        assert status in (400, 413, 414, 415), (status, text)
    else:
        assert status in (200, 400, 413, 414, 415), (status, text)
    if status != 200:
        assert env.journal_bytes() == before, f"{status} but something was stored"
        outcome = str(status)
    else:
        assert text in ("stored\n", "already stored\n"), text
        sent = _sent_params(case)
        number = sent["tel"]
        number = "+" + number[1:] if number.startswith(" ") else number
        shard = LocalRecordStore(env.ledger / "_receipts" / shard_of(sent["tracker"]))
        probe = DeliveryReceipt(sent["tracker"], number, "", sent["statut"], "")
        stored = DeliveryReceipt.from_json(shard.read(record_name(probe)))
        assert (stored.tracker, stored.number, stored.raw_status) == (sent["tracker"], number, sent["statut"])
        if text == "stored\n":
            assert env.journal_bytes() > before
            outcome = "stored"
        else:
            assert env.journal_bytes() == before, "a replay stored something"
            outcome = "replay"
        assert ReceiptStore.configured().receipts_for([sent["tracker"]]), "stored but not found"
    if case.repeat:
        again_before = env.journal_bytes()
        again = env.send(case)
        assert again.status_code == (200 if status == 200 else status), (status, again.status_code)
        if status == 200:
            assert again.text == "already stored\n", again.text
        assert env.journal_bytes() == again_before, "a repeated request stored something"
    return outcome
