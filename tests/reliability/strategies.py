"""Hypothesis strategies for the inputs users give the provider, each value labelled with what it is.

A :class:`Labelled` value is ``VALID`` (the provider must accept it), ``INVALID`` (it must refuse it with
``IsendproValidationError`` before any request), or ``ANY`` (either, as long as nothing else escapes).
Labels come from the documented rules (API-NOTES §8, SMS-FACTS), not from the code under test, so a rule
that the code stops enforcing shows up as an ``INVALID`` value that was accepted.

``INVALID_FR`` marks a text that is refused for French numbers only (non-GSM characters without
``transliterate``): every ``VALID`` number here is a metropolitan French mobile.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from airflow_provider_isendpro.sms import GSM_BASIC
from airflow_provider_isendpro.testing import MAGIC_NUMBERS

VALID, INVALID, ANY, INVALID_FR = "valid", "invalid", "any", "invalid_fr"
#: A list holding at least one invalid number: refused by a send, reported per number by a lookup.
INVALID_ITEMS = "invalid_items"


@dataclass(frozen=True)
class Labelled:
    value: Any
    label: str


def combine(*labels: str) -> str:
    """The label of an input made of several values: invalid if any is, valid only if all are."""
    if INVALID in labels or INVALID_ITEMS in labels:
        return INVALID
    if INVALID_FR in labels:
        return INVALID if all(label in (VALID, INVALID_FR) for label in labels) else ANY
    return VALID if all(label == VALID for label in labels) else ANY


def _label(strategy: st.SearchStrategy[Any], label: str) -> st.SearchStrategy[Labelled]:
    return strategy.map(lambda value: Labelled(value, label))


@dataclass(frozen=True)
class Param:
    """The values of one parameter: ``valid`` ones (labelled VALID) and the ``other`` ones (labelled
    INVALID, ANY...). Cases draw most parameters valid and one or more from ``other``, so that each
    rule is reached on its own, not only behind another parameter that is already refused."""

    valid: st.SearchStrategy[Labelled]
    other: st.SearchStrategy[Labelled]

    @property
    def all(self) -> st.SearchStrategy[Labelled]:
        return st.one_of(self.valid, self.other)


def param(
    valid: st.SearchStrategy[Any],
    invalid: st.SearchStrategy[Any] | None = None,
    any_: st.SearchStrategy[Any] | None = None,
) -> Param:
    others = [_label(invalid, INVALID)] if invalid is not None else []
    if any_ is not None:
        others.append(_label(any_, ANY))
    valid_labelled = _label(valid, VALID)
    return Param(valid_labelled, st.one_of(others) if others else valid_labelled)


def fixed(strategy: st.SearchStrategy[Any]) -> Param:
    """A parameter without invalid values (e.g. which of two operators to build)."""
    return param(strategy)


_MAGIC_TAILS = tuple(number[-9:] for number in MAGIC_NUMBERS)


def not_magic(value: Any) -> bool:
    """Keeps the emulator's magic numbers (code 11, HTTP 500, hang...) out of generated input."""
    digits = "".join(c for c in str(value) if c in "0123456789")
    return not any(tail in digits for tail in _MAGIC_TAILS)


# --------------------------------------------------------------------------------------------------
# Phone numbers

# Metropolitan mobile prefixes that are allocated (so valid under strict checking), away from the
# emulator's magic 0600000xxx range and from the 069x prefixes that belong to overseas departments.
_PREFIXES = [f"6{n}" for n in range(12, 90) if n != 39] + [f"7{n}" for n in range(50, 90)]
_FORMATS = (
    "0{p}{s}",
    "+33{p}{s}",
    "0033{p}{s}",
    "33{p}{s}",
    "0{p0} {p12}{s0} {s1} {s2}",
    "+33 {p0} {p12} {s0} {s1} {s2}",
    "0{p0}.{p12}.{s0}.{s1}.{s2}",
    "0{p0}-{p12}-{s0}-{s1}-{s2}",
    "+33 (0){p}{s}",
    " 0{p}{s}\t",
)


def _format(prefix: str, suffix: int, template: str) -> str:
    s = f"{suffix:06d}"
    return template.format(p=prefix, s=s, p0=prefix[0], p12=prefix[1:], s0=s[:2], s1=s[2:4], s2=s[4:])


def _allocated_mobile(nsn: str) -> bool:
    """The reference (the ``phonenumbers`` metadata, not the provider's own fast path): an allocated
    French mobile range."""
    import phonenumbers

    number = phonenumbers.parse("+33" + nsn)
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) == 1  # MOBILE


valid_numbers = (
    st.tuples(st.sampled_from(_PREFIXES), st.integers(0, 999_999))
    .filter(lambda ps: _allocated_mobile(f"{ps[0]}{ps[1]:06d}"))
    .flatmap(lambda ps: st.sampled_from(_FORMATS).map(lambda fmt: _format(ps[0], ps[1], fmt)))
    .filter(not_magic)
)

invalid_numbers = st.one_of(
    st.sampled_from(["", " ", "\t\n", "+", "()", "06 12", "abc", "06 12 34 56 7B", "0612345678 ext 2"]),
    st.text("0123456789", min_size=18, max_size=40),  # too long for any country
    st.text(st.characters(categories=["L"]), min_size=1, max_size=12),  # letters: never a number
    st.builds(lambda a, b: a + b, st.text("0123456789 ", max_size=10), st.sampled_from("#*@!?;:_=&%$")),
    st.just("٠٦١٢٣٤٥٦٧٨"),  # Arabic-Indic digits
    st.just("０６１２３４５６７８"),  # full-width digits
    st.none(),
    st.booleans(),
    st.lists(st.just("0612345678"), min_size=1, max_size=2),
    st.dictionaries(st.just("tel"), st.just("0612345678"), min_size=1),
    st.binary(max_size=10),
).filter(not_magic)

any_numbers = st.one_of(
    st.text(max_size=20),
    st.text("0123456789+ .-()", max_size=20),
    st.integers(-(10**12), 10**16),
    st.floats(allow_nan=True, allow_infinity=True),
).filter(not_magic)

_labelled_numbers = st.one_of(_label(invalid_numbers, INVALID), _label(any_numbers, ANY))


def _join(draw: st.DrawFn, values: list[Any]) -> Any:
    """Sometimes one string of numbers separated by commas, semicolons or new lines, as users write."""
    if all(isinstance(v, str) and v.strip() and not set(v) & set(",;\n") for v in values) and draw(
        st.booleans()
    ):
        return draw(st.sampled_from([", ", ";", "\n"])).join(values)
    return values


@st.composite
def _valid_list(draw: st.DrawFn, max_size: int) -> Labelled:
    return Labelled(_join(draw, draw(st.lists(valid_numbers, min_size=1, max_size=max_size))), VALID)


@st.composite
def _other_list(draw: st.DrawFn, max_size: int) -> Labelled:
    """At least one number that is not known valid, among valid ones (duplicates are fine)."""
    items = draw(st.lists(_labelled_numbers, min_size=1, max_size=max_size))
    items += [Labelled(n, VALID) for n in draw(st.lists(valid_numbers, max_size=max_size - 1))]
    items = draw(st.permutations(items))
    label = INVALID_ITEMS if any(i.label == INVALID for i in items) else ANY
    return Labelled(_join(draw, [i.value for i in items]), label)


def number_lists(max_size: int = 4) -> Param:
    """A non-empty list of numbers; INVALID_ITEMS when one of them is invalid."""
    return Param(_valid_list(max_size), _other_list(max_size))


#: Whole inputs that hold no number at all: refused by every entry point that takes numbers.
no_numbers = st.sampled_from(["", " ,; ", "\n", "{{ '' }}", [], 5, 3.5, True])


def number_inputs(max_size: int = 4) -> Param:
    lists = number_lists(max_size)
    bytes_input = _label(st.just(b"0612345678"), INVALID_ITEMS)  # bytes iterate as (invalid) integers
    return Param(lists.valid, st.one_of(lists.other, _label(no_numbers, INVALID), bytes_input))


#: The notifier's ``to``: numbers it texts or logs as invalid, or values its constructor refuses.
notifier_recipients = Param(
    number_lists(3).valid,
    st.one_of(
        number_lists(3).other.filter(
            lambda n: isinstance(n.value, str) or all(isinstance(v, str) for v in n.value)
        ),
        _label(st.sampled_from(["", [], 5, None, [5], ["0612345678", None], b"0612345678", True]), INVALID),
    ),
)
#: One number (the client's ``to``).
numbers = Param(_label(valid_numbers, VALID), _labelled_numbers)


# --------------------------------------------------------------------------------------------------
# Message texts (never Jinja: no "{", which would start a template, so the text is taken literally)

_GSM_TEXT = "".join(sorted(c for c in GSM_BASIC if c != "\r"))
valid_texts = st.text(_GSM_TEXT, min_size=1, max_size=140).filter(lambda t: t.strip() != "")
invalid_texts = st.one_of(
    st.sampled_from(["", " ", "\n\n", "\t "]),
    st.builds(lambda t, c: t + c, valid_texts, st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\ud800"])),
    st.text(_GSM_TEXT.replace(" ", "").replace("\n", ""), min_size=919, max_size=1200),  # > 6 parts
    st.none(),
    st.integers(),
    st.lists(valid_texts, min_size=1, max_size=2),
)
non_gsm_texts = st.builds(
    lambda t, c: t + c, valid_texts, st.sampled_from(["你好", "Привет", "😀", "ê", "’", "«", "œ"])
)
any_texts = st.text(st.characters(blacklist_characters="{"), max_size=200)


def _not_a_template_file(text: Any) -> bool:
    """Airflow reads a templated value ending in a ``template_ext`` (``.txt``, ``.j2``) as a file name."""
    return not (isinstance(text, str) and text.rstrip("\n").endswith((".txt", ".j2")))


texts = Param(
    _label(valid_texts.filter(_not_a_template_file), VALID),
    st.one_of(
        _label(invalid_texts, INVALID), _label(non_gsm_texts, INVALID_FR), _label(any_texts, ANY)
    ).filter(lambda labelled: _not_a_template_file(labelled.value)),
)


# --------------------------------------------------------------------------------------------------
# Sender ids (emetteur): 4-11 of A-Z, 0-9 and space, with a letter (API-NOTES §8.3)

valid_senders = st.one_of(
    st.none(), st.just(""), st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{3,10}", fullmatch=True)
)
invalid_senders = st.one_of(
    st.from_regex(r"[A-Za-z0-9]{1,3}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9]{11,20}", fullmatch=True),
    st.from_regex(r"[0-9 ]{4,11}", fullmatch=True),
    st.builds(lambda s, c: s + c, st.from_regex(r"[A-Z]{3,8}", fullmatch=True), st.sampled_from("!-_.é€")),
    st.integers(),
    st.lists(st.just("ACME"), min_size=1, max_size=1),
    st.just(b"ACME"),
)
senders = param(valid_senders, invalid_senders, st.text(max_size=14))
#: The client takes None for "no sender"; an empty string is a sender, and an invalid one.
client_senders = param(
    valid_senders.filter(lambda v: v != ""), st.one_of(invalid_senders, st.just("")), st.text(max_size=14)
)


# --------------------------------------------------------------------------------------------------
# Scheduled send times (send_at): an aware instant in the future, or nothing

_NOW = dt.datetime.now(dt.timezone.utc)
_OFFSETS = st.sampled_from([0, 60, 120, -300, 330, 540, -600, 840]).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
_future = st.builds(
    lambda days, hour, minute, second, tz: (
        (_NOW + dt.timedelta(days=days)).replace(hour=hour, minute=minute, second=second, microsecond=0)
    ).astimezone(tz),
    st.integers(2, 3000),
    st.integers(9, 17),  # UTC office hours: never the Paris autumn hour that occurs twice
    st.integers(0, 59),
    st.integers(0, 59),
    _OFFSETS,
)
valid_send_at = st.one_of(st.none(), st.just(""), _future, _future.map(lambda d: d.isoformat()))
invalid_send_at = st.one_of(
    st.datetimes(max_value=dt.datetime(2199, 1, 1)),  # naive: ambiguous
    st.datetimes(max_value=dt.datetime(2019, 1, 1), timezones=st.just(dt.timezone.utc)),  # past
    st.datetimes(max_value=dt.datetime(2199, 1, 1)).map(lambda d: d.isoformat()),  # naive text
    st.sampled_from(
        [
            "tomorrow",
            "2030-13-01T09:00+01:00",
            "2030-02-30T09:00:00Z",
            "09:00",
            "9999-12-31T23:59:59+00:00",  # rounds up past the last representable minute
            "9999-12-31T23:00:00-05:00",  # beyond year 9999 in UTC
            "0001-01-01T00:00:00+14:00",
        ]
    ),
    st.dates(min_value=dt.date(2030, 1, 1)),  # a date has no time of day
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(st.just("2030-01-01T09:00+01:00"), min_size=1, max_size=1),
)
any_send_at = st.one_of(st.datetimes(timezones=st.timezones()), st.text(max_size=30))

send_ats = param(valid_send_at, invalid_send_at, any_send_at)
#: The client has no "empty means now" shortcut: only None leaves the time out.
client_send_ats = param(
    valid_send_at.filter(lambda v: v != ""), st.one_of(invalid_send_at, st.just("")), any_send_at
)


# --------------------------------------------------------------------------------------------------
# Report date ranges (start, end): dates, French wall-time strings, aware datetimes; end after start

_day = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2098, 12, 1))


def _as(kind: str, day: dt.date, hour: int) -> Any:
    if kind == "date":
        return day
    if kind == "text":
        return f"{day.isoformat()} {hour:02d}:00"
    if kind == "iso":
        return f"{day.isoformat()}T{hour:02d}:00:00+00:00"
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.timezone.utc)


_KINDS = st.sampled_from(["date", "text", "iso", "aware"])
valid_ranges = st.builds(
    lambda day, span, k1, k2: (_as(k1, day, 0), _as(k2, day + dt.timedelta(days=span), 0)),
    _day,
    st.integers(1, 30),
    _KINDS,
    _KINDS,
)
invalid_ranges = st.one_of(
    st.builds(lambda r: (r[1], r[0]), valid_ranges),  # inverted
    st.builds(lambda day, kind: (_as(kind, day, 0), _as(kind, day, 0)), _day, _KINDS),  # empty
    st.tuples(st.datetimes(), st.datetimes()),  # naive datetimes
    st.tuples(st.sampled_from(["yesterday", "2026-02-30", "", "31/01/2026"]), _day.map(str)),
    st.tuples(st.integers(), st.integers()),
    st.tuples(st.none(), st.none()),  # no date range and no data interval in the context
    st.tuples(st.just("2026-01-01"), st.sampled_from(["9999-12-31T23:59+00:00", "9999-12-31T23:30-01:00"])),
    st.tuples(st.just("0001-01-01T00:00+14:00"), st.just("2026-01-01")),
    st.tuples(st.lists(st.just("2026-01-01"), max_size=1), st.just("2026-02-01")),
)
any_ranges = st.tuples(
    st.one_of(st.datetimes(timezones=st.timezones()), st.dates(), st.text(max_size=20)),
    st.one_of(st.datetimes(timezones=st.timezones()), st.dates(), st.text(max_size=20)),
)

date_ranges = param(valid_ranges, invalid_ranges, any_ranges)


# --------------------------------------------------------------------------------------------------
# Trackers: one id per message (client sends), or trackers to report on (campaign report)

valid_trackers = st.from_regex(r"[A-Za-z0-9]{1,49}", fullmatch=True)
invalid_trackers = st.one_of(
    st.just(""),
    st.from_regex(r"[A-Za-z0-9]{50,80}", fullmatch=True),
    st.builds(lambda t, c: t + c, valid_trackers, st.sampled_from(" -_.é\n/")),
    st.integers(),
    st.lists(valid_trackers, min_size=1, max_size=2),
)
trackers = param(valid_trackers, invalid_trackers, st.text(max_size=60))

#: Any JSON-like value for a templated field; its strings hold no "{" (Airflow would render them as Jinja:
#: a stray "{{" is a TemplateSyntaxError of Airflow's rendering, before the operator runs).
_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(st.characters(blacklist_characters="{"), max_size=10),
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
valid_report_trackers = st.one_of(
    st.none(),
    st.lists(valid_trackers, max_size=4),
    st.lists(valid_trackers, min_size=1, max_size=4).map(", ".join),
    st.lists(valid_trackers, max_size=4).map(lambda ts: {"trackers": ts}),
    st.lists(valid_trackers, max_size=4).map(lambda ts: {"recipients": [{"tracker": t} for t in ts]}),
)
invalid_report_trackers = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dictionaries(st.sampled_from(["a", "id", "statut"]), st.text(max_size=5), min_size=1),
    st.lists(st.integers(), min_size=1, max_size=3),
)
report_trackers = param(valid_report_trackers, invalid_report_trackers, _json)


# --------------------------------------------------------------------------------------------------
# Sizes, limits, flags, regions

batch_sizes = param(
    st.one_of(st.integers(1, 10_000), st.integers(10_001, 10**30)),
    st.one_of(
        st.integers(-(10**12), 0),
        st.floats().filter(lambda f: not (math.isfinite(f) and f.is_integer() and f >= 1)),
        st.floats(1, 1e6).map(math.floor).map(float),  # 2.0 is not a whole number of recipients to us
        st.sampled_from(["", "x", "1e3", "2.5", "-3", "none"]),
        st.none(),
        st.booleans(),
        st.lists(st.integers(1, 5), min_size=1, max_size=1),
    ),
    st.integers(1, 10**6).map(str),  # a rendered template gives text: accepted by some entry points
)
max_segments = param(
    st.integers(1, 6),
    st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=7),
        st.floats(),
        st.none(),
        st.booleans(),
        st.just("x"),
    ),
    st.integers(1, 6).map(str),
)
invalid_thresholds = st.one_of(
    st.integers(max_value=-1),
    st.floats(max_value=-1e-9),
    st.sampled_from([math.nan, math.inf, -math.inf, 10**400, -(10**400)]),
    st.sampled_from(["", "x", "-1", "nan", "1e999", "[1]"]),
    st.booleans(),
    st.lists(st.integers(0, 5), min_size=1, max_size=1),
    st.dictionaries(st.just("euros"), st.integers(0, 5), min_size=1),
)
thresholds = param(
    st.one_of(st.integers(0, 10**6), st.floats(0, 1e9)),
    invalid_thresholds,
    st.one_of(st.text(max_size=12), st.floats(0, 1e6).map(str)),
)
#: ``min_sms`` counts whole SMS: fractional values are refused too.
sms_thresholds = param(
    st.integers(0, 10**6),
    st.one_of(invalid_thresholds, st.sampled_from([0.5, 1.25, 99.999])),
    st.one_of(st.text(max_size=12), st.floats(0, 1e6), st.integers(0, 10**6).map(str)),
)
ratios = param(
    st.one_of(st.none(), st.floats(0, 1), st.sampled_from([0, 1])),
    st.one_of(
        st.floats(min_value=1.000001),
        st.floats(max_value=-1e-9),
        st.just(math.nan),
        st.sampled_from(["0.5", "x", ""]),
        st.booleans(),
        st.lists(st.just(0.5), min_size=1, max_size=1),
    ),
)
limits = param(
    st.one_of(st.none(), st.integers(10, 10**9)),
    st.one_of(
        st.integers(max_value=-1),
        st.floats(allow_nan=True),
        st.sampled_from(["10", "x", ""]),
        st.booleans(),
        st.lists(st.just(10), min_size=1, max_size=1),
    ),
    st.integers(0, 3),  # a valid limit that this send may exceed
)
prices = param(
    st.one_of(st.none(), st.floats(0, 10), st.integers(0, 5)),
    st.one_of(
        st.floats(max_value=-1e-9),
        st.sampled_from([math.nan, math.inf, "0.05", "x", True]),
        st.lists(st.just(0.05), min_size=1, max_size=1),
    ),
)
flags = param(
    st.booleans(),
    st.one_of(st.sampled_from(["maybe", "2", "yes please"]), st.lists(st.booleans(), max_size=2)),
    st.sampled_from(["true", "false", "0", "1", "", None]),
)
regions = param(
    st.just("FR"),
    st.one_of(
        st.sampled_from(["XX", "", "fr", "FRA", "ZZ", "001"]),
        st.integers(),
        st.lists(st.just("FR"), min_size=1, max_size=1),
        st.just(("FR",)),
    ),
    st.one_of(st.none(), st.sampled_from(["BE", "RE", "US", "DE"])),  # other readings of a number
)
