"""Transliteration to GSM-7 (SMS-FACTS §4)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import (
    GSM_BASIC,
    GSM_EXTENSION,
    Transliteration,
    count_segments,
    transliterate,
)
from airflow_provider_isendpro.sms.translit import TRANSLITERATIONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L’équipe", "L'équipe"),
        ("‘a’ ‚b′ `c`", "'a' 'b' 'c'"),
        ("“a” „b” «c» ″", '"a" "b" "c" "'),
        ("a – b — c ‐ d − e", "a - b - c - d - e"),
        ("Attendez…", "Attendez..."),
        ("Prix\u00a0: 5\u202f€ !\tfin\u2009.", "Prix : 5 € ! fin ."),
        ("œuvre Œuvre", "oeuvre OEuvre"),
        ("â ê î ô û Â Ê Î Ô Û", "a e i o u A E I O U"),
        ("ë ï ÿ Ë Ï Ÿ", "e i y E I Y"),
        ("À È Ù", "A E U"),
        ("ça", "ca"),
        ("n° 5", "no 5"),
        ("á í ó ú ã õ Á Í", "a i o u a o A I"),  # decomposition fallback
        ("ﬁn", "fin"),  # compatibility decomposition
        ("Łódź", "Lodz"),
        ("e\u0301te\u0300", "étè"),  # decomposed accents are composed first (NFC)
        ("x\u0301", "x"),  # a lone combining mark is dropped
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("é è à ù É Ç € ñ ß", "é è à ù É Ç € ñ ß"),  # GSM characters stay
    ],
)
def test_examples(text: str, expected: str) -> None:
    result = transliterate(text)
    assert result.text == expected
    assert count_segments(result.text)[0] == "GSM-7"


def test_reports_replacements_in_order() -> None:
    result = transliterate("« Ça coûte 5 € », dit-il…")
    assert result == Transliteration(
        '" Ça coute 5 € ", dit-il...', {"«": '"', "û": "u", "»": '"', "…": "..."}
    )
    assert result.to_dict() == {
        "text": '" Ça coute 5 € ", dit-il...',
        "replaced": {"«": '"', "û": "u", "»": '"', "…": "..."},
    }


def test_gsm_text_unchanged_and_nothing_reported() -> None:
    assert transliterate("Bonjour {tout} le monde").to_dict() == {
        "text": "Bonjour {tout} le monde",
        "replaced": {},
    }


def test_cedilla_choice() -> None:
    assert transliterate("garçon", cedilla="Ç").text == "garÇon"
    assert transliterate("garçon", cedilla="c").replaced == {"ç": "c"}
    with pytest.raises(IsendproValidationError) as info:
        transliterate("garçon", cedilla="ç")
    assert info.value.field == "cedilla"
    assert str(info.value) == 'cedilla=\'ç\': must be "c" or "Ç" (the replacement for "ç")'


def test_unmappable_characters_are_named() -> None:
    with pytest.raises(IsendproValidationError) as info:
        transliterate("Salut 😀 Привет ½")
    err = info.value
    assert err.field == "text"
    assert str(err).startswith("text='Salut 😀 Привет ½': has characters with no GSM-7 equivalent: ")
    assert "'😀' (U+1F600), 'П' (U+041F)" in str(err)
    assert "'½' (U+00BD)" in str(err)
    assert str(err).endswith(
        "remove them, or send without transliteration as UCS-2 to a number outside metropolitan France"
    )


def test_many_unmappable_characters_are_summarised() -> None:
    with pytest.raises(IsendproValidationError, match=r"'К' \(U\+041A\) and 3 more; remove them"):
        transliterate("АБВГДЕЖЗИКЛМН")


def test_control_characters_rejected() -> None:
    with pytest.raises(IsendproValidationError, match="control character"):
        transliterate("a\x1bb’")


def test_map_only_touches_non_gsm_and_targets_gsm() -> None:
    gsm = GSM_BASIC | GSM_EXTENSION
    assert not set(TRANSLITERATIONS) & gsm
    assert all(set(target) <= gsm for target in TRANSLITERATIONS.values())


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(sorted(GSM_BASIC | GSM_EXTENSION)),
            st.sampled_from([*sorted(TRANSLITERATIONS), "ç", "á", "Ã", "ﬁ", "\u0301"]),
            st.characters(min_codepoint=0xA0, max_codepoint=0x24F),  # Latin-1 and Latin Extended
        ),
        max_size=200,
    )
)
def test_transliterated_text_is_always_gsm(text: str) -> None:
    try:
        result = transliterate(text)
    except IsendproValidationError as exc:
        assert "no GSM-7 equivalent" in str(exc)
        return
    assert count_segments(result.text)[0] == "GSM-7"
    # Only non-GSM characters are ever replaced.
    assert not set(result.replaced) & (GSM_BASIC | GSM_EXTENSION)
    assert unicodedata.is_normalized("NFC", result.text)
