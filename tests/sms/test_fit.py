"""fit_message / make_sendable: exact vectors, every refusal, and properties against a brute-force search."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms.fit import (
    ELLIPSIS,
    WORD_BACKTRACK,
    fit_message,
    is_safe_cut,
    make_sendable,
)
from airflow_provider_isendpro.sms.text import STOP_SUFFIX_LENGTH, count_segments

FLAG_FR = "\U0001f1eb\U0001f1f7"  # two regional indicators: one visible flag
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # three emoji joined with ZWJ
THUMB_DARK = "\U0001f44d\U0001f3ff"  # emoji + skin-tone modifier


def segments(text: str, stop_suffix: bool = False) -> int:
    return count_segments(text + " " * STOP_SUFFIX_LENGTH if stop_suffix else text)[2]


# --------------------------------------------------------------------------------------------------
# Exact vectors


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        pytest.param("short alert", {}, "short alert", id="fits-unchanged"),
        pytest.param("a" * 160, {}, "a" * 160, id="exactly-160"),
        pytest.param("", {}, "", id="empty"),
        pytest.param("a" * 161, {}, "a" * 157 + "...", id="hard-cut"),
        pytest.param("a" * 200, {"stop_suffix": True}, "a" * 145 + "...", id="stop-suffix-reserves-12"),
        pytest.param("a" * 148, {"stop_suffix": True}, "a" * 148, id="stop-suffix-148-fits"),
        pytest.param("a" * 1000, {"max_segments": 2}, "a" * 303 + "...", id="two-parts-306"),
        pytest.param("a" * 1000, {"max_segments": 6}, "a" * 915 + "...", id="six-parts-918"),
        pytest.param("a" * 150 + "€" * 10, {}, "a" * 150 + "€" * 3 + "...", id="extension-chars-cost-2"),
        pytest.param("ç" * 100, {}, "ç" * 67 + "...", id="ucs2-70"),
        pytest.param("😀" * 40, {}, "😀" * 33 + "...", id="surrogate-pairs-cost-2"),
        pytest.param("a" * 150 + "ç" + "a" * 10, {}, "a" * 150 + "...", id="cut-before-non-gsm-stays-gsm"),
        pytest.param("x" * 300, {"suffix": " http://u"}, "x" * 148 + "... http://u", id="suffix-kept-whole"),
        pytest.param("x" * 200, {"ellipsis": ""}, "x" * 160, id="no-ellipsis"),
        pytest.param(
            "x" * 200, {"ellipsis": " [...]"}, "x" * 152 + " [...]", id="custom-ellipsis-brackets-cost-2"
        ),
    ],
)
def test_vectors(text: str, kwargs: dict[str, object], expected: str) -> None:
    result = fit_message(text, **kwargs)  # type: ignore[arg-type]
    assert result == expected
    assert segments(result, bool(kwargs.get("stop_suffix"))) <= int(kwargs.get("max_segments", 1))  # type: ignore[call-overload]


def test_two_part_straddle_is_counted() -> None:
    # 152 'a' then '€' would straddle parts 1 and 2: a 2-unit character is never split across parts.
    text = "a" * 152 + "€" + "a" * 300
    result = fit_message(text, max_segments=2)
    # Part 1 holds 152 units (the '€' moves to part 2), so one unit fewer fits than 306 suggests.
    assert result == "a" * 152 + "€" + "a" * 148 + "..."
    assert count_segments(result) == ("GSM-7", 305, 2)
    assert count_segments(result[:-3] + "a...") == ("GSM-7", 306, 3)


def test_cuts_at_a_nearby_word_boundary() -> None:
    text = (
        "Disk full on host db-01: ingestion stopped, please check the volume quota before the next run. " * 3
    )
    result = fit_message(text)
    # 157 characters + "..." would fit, but that cuts "volume" to "vo": the space 2 characters back wins.
    assert result == (
        "Disk full on host db-01: ingestion stopped, please check the volume quota before the next run. "
        "Disk full on host db-01: ingestion stopped, please check the..."
    )
    assert len(result) == 158


def test_word_boundary_too_far_back_cuts_mid_word() -> None:
    text = "a" * 100 + " " + "b" * 100
    assert fit_message(text) == "a" * 100 + " " + "b" * 56 + "..."


def test_word_boundary_exactly_at_backtrack_limit() -> None:
    # The longest fitting prefix is 157 characters; a space WORD_BACKTRACK characters back is used...
    assert fit_message("a" * (157 - WORD_BACKTRACK) + " " + "b" * 100) == "a" * (157 - WORD_BACKTRACK) + "..."
    # ...one more character back is not.
    text = "a" * (156 - WORD_BACKTRACK) + " " + "b" * 100
    assert fit_message(text) == text[:157] + "..."


def test_runs_of_spaces_are_dropped_before_the_ellipsis() -> None:
    assert fit_message("a" * 150 + " " * 5 + "b" * 20) == "a" * 150 + "..."
    assert fit_message(" " * 200) == "..."


def test_cr_lf_is_never_split() -> None:
    assert fit_message("a" * 156 + "\r\n" + "b" * 10) == "a" * 156 + "..."


def test_combining_accent_stays_on_its_letter() -> None:
    text = "e\u0301" * 50  # decomposed é: UCS-2 (the combining accent is not GSM), 100 units
    assert fit_message(text) == "e\u0301" * 33 + "..."


def test_flags_zwj_sequences_and_modifiers_stay_whole() -> None:
    assert fit_message(FLAG_FR * 40) == FLAG_FR * 16 + "..."
    family = fit_message("ab" + FAMILY * 20)
    assert family == "ab" + FAMILY * 8 + "..."  # 2 + 8 * 8 + 3 = 69 units
    thumbs = fit_message(THUMB_DARK * 20)
    assert thumbs == THUMB_DARK * 16 + "..."  # 16 * 4 + 3 = 67 units (a 17th would need 71)


# --------------------------------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize("value", [0, 7, True, 1.0, "1", None])
def test_max_segments_must_be_1_to_6(value: object) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        fit_message("x", max_segments=value)  # type: ignore[arg-type]
    assert exc.value.field == "max_segments"


@pytest.mark.parametrize("name", ["text", "ellipsis", "suffix"])
def test_arguments_must_be_strings(name: str) -> None:
    kwargs: dict[str, object] = {"text": "x", name: b"x"}
    text = kwargs.pop("text")
    with pytest.raises(IsendproValidationError) as exc:
        fit_message(text, **kwargs)  # type: ignore[arg-type]
    assert exc.value.field == name
    assert exc.value.rule == "must be a string, not bytes"


def test_control_characters_are_refused_even_past_the_cut() -> None:
    with pytest.raises(IsendproValidationError) as exc:
        fit_message("a" * 300 + "\x1b[0m")
    assert exc.value.field == "text"


def test_a_suffix_that_cannot_fit_is_refused() -> None:
    with pytest.raises(IsendproValidationError) as exc:
        fit_message("a" * 200, suffix="b" * 158)
    assert exc.value.field == "suffix"
    assert exc.value.rule == (
        "with the ellipsis, needs more than 1 SMS part(s) on its own: nothing of the message would fit; "
        "shorten the suffix or raise max_segments"
    )
    with pytest.raises(IsendproValidationError) as exc:
        fit_message("a" * 200, suffix="b" * 146, stop_suffix=True)
    assert "(plus the 12-unit STOP suffix)" in exc.value.rule


def test_the_suffix_alone_may_exactly_fill_the_budget() -> None:
    assert fit_message("a" * 200, suffix="b" * 157) == "..." + "b" * 157


# --------------------------------------------------------------------------------------------------
# is_safe_cut


@pytest.mark.parametrize(
    ("text", "k", "safe"),
    [
        ("abc", 0, True),
        ("abc", 3, True),
        ("abc", 9, True),
        ("abc", -1, True),
        ("abc", 1, True),
        ("e\u0301x", 1, False),  # before a combining mark
        ("e\u0301x", 2, True),
        ("\U0001f44d\ufe0fx", 1, False),  # before a variation selector
        ("\U0001f44d\U0001f3ffx", 1, False),  # before a skin-tone modifier
        ("a\u200db", 1, False),  # before ZWJ
        ("a\u200db", 2, False),  # after ZWJ
        ("a\r\nb", 2, False),
        ("a\r\nb", 1, True),
        ("a\r\nb", 3, True),
        (FLAG_FR * 2, 1, False),
        (FLAG_FR * 2, 2, True),
        (FLAG_FR * 2, 3, False),
        ("x" + FLAG_FR, 2, False),
    ],
)
def test_is_safe_cut(text: str, k: int, safe: bool) -> None:
    assert is_safe_cut(text, k) is safe


# --------------------------------------------------------------------------------------------------
# Properties against a brute-force search

ALPHABET = st.sampled_from(
    [*"abZ0  \n€{éç’😀.\t", "\r\n", "\u0301", "\u200d", "\ufe0f", FLAG_FR[0], FLAG_FR[1], "\U0001f3fb"]
)
TEXTS = st.lists(ALPHABET, max_size=420).map("".join)


def brute_force_longest(text: str, tail: str, max_segments: int, stop_suffix: bool) -> int:
    """The largest safe cut k with text[:k] + tail fitting, by trying every k from the top."""
    for k in range(len(text), -1, -1):
        if is_safe_cut(text, k) and segments(text[:k] + tail, stop_suffix) <= max_segments:
            return k
    raise AssertionError("k = 0 always fits when the tail does")


@settings(max_examples=400, deadline=None)
@given(
    text=TEXTS,
    max_segments=st.integers(1, 3),
    stop_suffix=st.booleans(),
    ellipsis=st.sampled_from(["...", "", "…", "[+]"]),
    suffix=st.sampled_from(["", " http://x/y?z=1", " ÿ"]),
)
@example(text="a" * 152 + "€" + "a" * 300, max_segments=2, stop_suffix=False, ellipsis="...", suffix="")
@example(text="a " * 120, max_segments=1, stop_suffix=True, ellipsis="...", suffix="")
def test_result_fits_is_a_prefix_and_is_maximal(
    text: str, max_segments: int, stop_suffix: bool, ellipsis: str, suffix: str
) -> None:
    result = fit_message(
        text, max_segments=max_segments, stop_suffix=stop_suffix, ellipsis=ellipsis, suffix=suffix
    )
    # Always fits the budget, with the STOP suffix counted when asked.
    assert segments(result, stop_suffix) <= max_segments
    if segments(text + suffix, stop_suffix) <= max_segments:
        assert result == text + suffix  # nothing to do: unchanged
        return
    tail = ellipsis + suffix
    assert result.endswith(tail)
    prefix = result[: len(result) - len(tail)]
    # A prefix of the input, cut at a safe place, without trailing whitespace.
    assert text.startswith(prefix)
    assert is_safe_cut(text, len(prefix))
    assert prefix == prefix.rstrip()
    # Maximal: built from the longest fitting safe cut (found by trying every cut, not by bisection),
    # moved back to a word boundary when one is at most WORD_BACKTRACK characters away.
    longest = brute_force_longest(text, tail, max_segments, stop_suffix)
    assert len(prefix) <= longest
    cut = next(
        (
            k
            for k in range(longest, max(longest - WORD_BACKTRACK, 1) - 1, -1)
            if text[k].isspace() and is_safe_cut(text, k)
        ),
        longest,
    )
    assert prefix == text[: clean_end(text, cut)]


def clean_end(text: str, k: int) -> int:
    """Drop trailing whitespace, keeping the cut safe."""
    while True:
        while not is_safe_cut(text, k):
            k -= 1
        if len(text[:k].rstrip()) == k:
            return k
        k = len(text[:k].rstrip())


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), gsm_only=st.booleans())
@example(text="\x1b[31mERROR\x1b[0m \udce9 L’été « ok » 😀 Привет\t", gsm_only=True)
def test_make_sendable_output_is_always_countable_and_gsm_when_asked(text: str, gsm_only: bool) -> None:
    result = make_sendable(text, gsm_only=gsm_only)
    encoding, _, _ = count_segments(result)  # never raises: no control characters, no lone surrogates
    if gsm_only:
        assert encoding == "GSM-7"
    # and then it can always be fitted
    assert segments(fit_message(result)) <= 1


# --------------------------------------------------------------------------------------------------
# make_sendable vectors


@pytest.mark.parametrize(
    ("text", "gsm_only", "expected"),
    [
        ("\x1b[31mERROR\x1b[0m disk", True, " [31mERROR [0m disk"),
        ("\x1b[31mERROR\x1b[0m disk", False, " [31mERROR [0m disk"),
        ("a\x00b\x7fc", True, "a b c"),
        ("bad byte \udce9 here", True, "bad byte ? here"),
        ("L’équipe « dit » : ça marche…", True, 'L\'équipe " dit " : ca marche...'),
        ("L’équipe", False, "L’équipe"),
        ("caf\u0065\u0301", True, "café"),  # NFC first: the decomposed é becomes GSM
        ("caf\u0065\u0301", False, "café"),
        ("job 😀 Привет", True, "job ? ??????"),
        ("job 😀", False, "job 😀"),
        ("a\tb", True, "a b"),
        ("plain ASCII, 100% GSM", True, "plain ASCII, 100% GSM"),
        ("€ and {braces}", True, "€ and {braces}"),
        ("", True, ""),
    ],
)
def test_make_sendable(text: str, gsm_only: bool, expected: str) -> None:
    assert make_sendable(text, gsm_only=gsm_only) == expected


def test_make_sendable_custom_replacement() -> None:
    assert make_sendable("ok 😀", gsm_only=True, replacement="") == "ok "
    assert make_sendable("ok 😀", gsm_only=True, replacement="(?)") == "ok (?)"


@pytest.mark.parametrize("replacement", ["\x1b", "\ud800", "😀", "’", 1])
def test_make_sendable_refuses_a_bad_replacement(replacement: object) -> None:
    with pytest.raises(IsendproValidationError) as exc:
        make_sendable("x", gsm_only=True, replacement=replacement)  # type: ignore[arg-type]
    assert exc.value.field == "replacement"


def test_make_sendable_refuses_non_strings() -> None:
    with pytest.raises(IsendproValidationError) as exc:
        make_sendable(None, gsm_only=True)  # type: ignore[arg-type]
    assert exc.value.field == "text"


def test_ellipsis_constant() -> None:
    assert ELLIPSIS == "..."
    assert count_segments(ELLIPSIS) == ("GSM-7", 3, 1)
