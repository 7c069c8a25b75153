"""Segment counting: SMS-FACTS §3.1 vectors, the alphabet tables, and properties against gsm0338."""

from __future__ import annotations

import contextlib

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec used as the oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import (
    GSM_BASIC,
    GSM_EXTENSION,
    ISENDPRO_MAX_SEGMENTS,
    STOP_SUFFIX_LENGTH,
    count_segments,
    is_gsm,
    non_gsm_characters,
)
from tests.sms_facts import VECTORS


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), VECTORS)
def test_sms_facts_vectors(text: str, encoding: str, units: int, segments: int) -> None:
    assert count_segments(text) == (encoding, units, segments)


def test_constants() -> None:
    assert STOP_SUFFIX_LENGTH == 12
    assert ISENDPRO_MAX_SEGMENTS == 6
    assert len(GSM_BASIC) == 127  # 128 code points minus ESC
    assert frozenset("\f^{}\\[~]|€") == GSM_EXTENSION
    assert not GSM_BASIC & GSM_EXTENSION
    assert "\x1b" not in GSM_BASIC
    # Pitfalls of SMS-FACTS §1.1 and §1.3.
    assert {"$", "¤", "@", "Ç", "\n", "\r"} <= GSM_BASIC
    assert not {"`", "\t", "ç"} & GSM_BASIC
    assert set("àäéèùöüæÉÄÖÜÆÇ") <= GSM_BASIC
    assert not set("âçêëîïôûÿœÀÂÈÊËÎÏÔÙÛŸŒ’‘“”«»–—…°\u00a0\u202f") & (GSM_BASIC | GSM_EXTENSION)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\r\n", ("GSM-7", 2, 1)),
        ("a€{", ("GSM-7", 5, 1)),
        ("\f", ("GSM-7", 2, 1)),
        ("a\tb", ("UCS-2", 3, 1)),  # tab is not GSM
        ("`", ("UCS-2", 1, 1)),
        ("ab\n" * 60, ("GSM-7", 180, 2)),  # LF stays on the ASCII fast path
        ("{" * 77, ("GSM-7", 154, 1)),
        ("{" * 81, ("GSM-7", 162, 2)),
        ("é" * 161, ("GSM-7", 161, 2)),  # non-ASCII GSM
        ("a" * 152 + "€", ("GSM-7", 154, 1)),  # fits the single SMS
        ("a" * 152 + "€" + "a" * 10, ("GSM-7", 164, 2)),  # the pair is pushed to part 2
        ("a" * 151 + "€" + "a" * 152, ("GSM-7", 305, 2)),  # the pair fits exactly
        ("\u0080" * 71, ("UCS-2", 71, 2)),  # C1 controls are counted, not rejected
        ("a" * 66 + "😀", ("UCS-2", 68, 1)),
        ("ç" * 66 + "😀" + "ç" * 5, ("UCS-2", 73, 2)),
    ],
)
def test_edge_cases(text: str, expected: tuple[str, int, int]) -> None:
    assert count_segments(text) == expected


@pytest.mark.parametrize("bad", ["\x1b", "a\x1b(", "\x00", "\x07", "\x0b", "\x1f", "\x7f", "x\ud800y"])
def test_control_characters_are_not_text(bad: str) -> None:
    for check in (count_segments, non_gsm_characters, is_gsm):
        with pytest.raises(IsendproValidationError) as info:
            check(bad)
        err = info.value
        assert err.field == "text"
        assert err.value == bad
        assert "control character" in str(err)
        assert "remove it" in str(err)
        assert str(err).startswith(f"text={bad!r}: contains the control character")


def test_control_character_message_names_position() -> None:
    with pytest.raises(IsendproValidationError, match=r"'\\x1b' at position 3, which is not SMS text"):
        count_segments("abc\x1bdef")


@pytest.mark.parametrize("bad", [None, 42, b"abc"])
def test_non_string_text(bad: object) -> None:
    for check in (count_segments, non_gsm_characters, is_gsm):
        with pytest.raises(IsendproValidationError, match=f"must be a string, not {type(bad).__name__}"):
            check(bad)  # type: ignore[arg-type]


def test_non_gsm_characters_distinct_in_order() -> None:
    assert non_gsm_characters("L’été « ça » ’") == ["’", "«", "ç", "»"]
    assert non_gsm_characters("plain € {}") == []
    assert is_gsm("plain € {}") is True
    assert is_gsm("ç") is False


# --- properties ---------------------------------------------------------------------------------------

GSM_CHARS = sorted(GSM_BASIC | GSM_EXTENSION)
_INVALID = {chr(c) for c in [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F]}
ANY_CHAR = st.characters(exclude_categories=("Cs",), exclude_characters=_INVALID)
# A few characters with each cost, so that long texts hit part boundaries often.
BOUNDARY_CHARS = st.sampled_from(["a", "é", "€", "{", "\n", "ç", "’", "😀", "€", "😀"])

gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=1000)
mixed_text = st.text(alphabet=st.one_of(st.sampled_from(GSM_CHARS), ANY_CHAR), max_size=400)
boundary_text = st.text(alphabet=BOUNDARY_CHARS, min_size=60, max_size=1000)
gsm_boundary_text = st.text(alphabet=st.sampled_from(["a", "€", "{", "é", "\r"]), min_size=140, max_size=1000)


def oracle_units(text: str) -> tuple[str, list[int]]:
    """Per-character units from the gsm0338 codec (UnicodeEncodeError means UCS-2)."""
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return "UCS-2", [len(c.encode("utf-16-le")) // 2 for c in text]
    return "GSM-7", [len(c.encode("gsm03.38")) for c in text]


def oracle_split(units: list[int], single: int, per_part: int) -> list[list[int]]:
    """A plain greedy splitter that builds the parts explicitly."""
    if sum(units) <= single:
        return [units] if units else []
    parts: list[list[int]] = [[]]
    for unit in units:
        if sum(parts[-1]) + unit > per_part:
            parts.append([])
        parts[-1].append(unit)
    return parts


def oracle_count(text: str) -> tuple[str, int, int]:
    encoding, units = oracle_units(text)
    single, per_part = (160, 153) if encoding == "GSM-7" else (70, 67)
    return encoding, sum(units), len(oracle_split(units, single, per_part))


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, mixed_text, boundary_text, gsm_boundary_text))
def test_agrees_with_gsm0338_and_independent_splitter(text: str) -> None:
    encoding, units, segments = count_segments(text)
    try:
        codec_units = len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        assert encoding == "UCS-2"
        assert units == len(text.encode("utf-16-le")) // 2
    else:
        assert encoding == "GSM-7"
        assert units == codec_units
    assert (encoding, units, segments) == oracle_count(text)
    assert is_gsm(text) is (encoding == "GSM-7")
    assert (non_gsm_characters(text) == []) is (encoding == "GSM-7")


def test_alphabet_matches_gsm0338_exhaustively() -> None:
    """Every code point: our tables and the codec agree on membership and cost (ESC aside)."""
    codec: dict[str, int] = {}
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        with contextlib.suppress(UnicodeEncodeError):
            codec[chr(code)] = len(chr(code).encode("gsm03.38"))
    ours = {c: 1 for c in GSM_BASIC} | {c: 2 for c in GSM_EXTENSION}
    assert codec.pop("\x1b") == 1  # the codec passes ESC through; we reject it as not text
    assert codec == ours
