"""The emulator's own GSM 03.38 counter (``testing/gsm.py``) against the SMS-FACTS vectors, the
``gsm0338`` codec, and the provider's counter (``sms/text.py``) on random texts.

The emulator must not share the code it checks: the two counters are written independently, and this
property test is where they meet. A disagreement is a bug in one of them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec: an independent oracle for the tables)
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms.text import STOP_SUFFIX_LENGTH, count_segments
from airflow_provider_isendpro.testing import gsm
from tests.sms_facts import VECTORS

TESTING_DIR = Path(__file__).resolve().parents[2] / "airflow_provider_isendpro" / "testing"


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), VECTORS)
def test_sms_facts_vectors(text: str, encoding: str, units: int, segments: int) -> None:
    assert gsm.count(text) == (encoding, units, segments)


def test_tables_match_the_gsm0338_codec() -> None:
    encodable = set()
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        try:
            septets = char.encode("gsm03.38")
        except UnicodeEncodeError:
            continue
        encodable.add(char)
        if char != "\x1b":
            assert len(septets) == (2 if char in gsm.EXTENSION else 1), char
    assert encodable - {"\x1b"} == gsm.BASIC | gsm.EXTENSION  # ESC is the escape, not a character
    assert (len(gsm.BASIC), len(gsm.EXTENSION)) == (127, 10)


@pytest.mark.parametrize("char", ["\x1b", "\x00", "\x07", "\x7f", "\ud83d"])
def test_not_text_is_refused(char: str) -> None:
    with pytest.raises(ValueError, match="is not SMS text"):
        gsm.count(f"ab{char}cd")
    with pytest.raises(IsendproValidationError):
        count_segments(f"ab{char}cd")


def test_tab_is_text_but_not_gsm() -> None:
    assert gsm.count("a\tb") == ("UCS-2", 3, 1)
    assert gsm.non_gsm("a\tbç\t") == ["\t", "ç"]


def test_the_emulator_imports_nothing_from_the_product_counter() -> None:
    """Statically (every module of ``testing/``) and at run time (a fresh interpreter)."""
    package = ["airflow_provider_isendpro", "testing"]
    for module in sorted(TESTING_DIR.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                parent = ".".join(filter(None, [base, node.module]))
                names = [parent] + [f"{parent}.{alias.name}" for alias in node.names]
            for name in names:
                assert not name.startswith("airflow_provider_isendpro.sms"), (module.name, name)
    code = (
        "import sys; from airflow_provider_isendpro.testing import IsendproEmulator; "
        "import airflow_provider_isendpro.testing.operations; "
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_isendpro.sms')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# Characters that exercise every branch: 1-unit GSM, 2-unit GSM extension, non-GSM BMP (UCS-2, 1 unit),
# astral (UCS-2, 2 units), and the newline/CR/tab text controls.
_ALPHABET = st.sampled_from(
    ["a", "Z", " ", "é", "@", "\n", "\r", "€", "{", "^", "\f", "ç", "’", "Я", "\t", "😀", "𝄞"]
)
_GSM_ONLY = st.sampled_from(["a", "é", " ", "€", "[", "~", "|", "\f"])


def _runs(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Texts near the part boundaries: a long run of one character, then a short random tail."""
    return st.builds(
        lambda fill, n, tail: fill * n + tail,
        st.sampled_from(["a", "€", "é", "ç", "😀"]),
        st.integers(min_value=0, max_value=470),
        st.text(alphabet, max_size=12),
    )


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    text=st.one_of(
        st.text(_ALPHABET, max_size=1000),
        st.text(_GSM_ONLY, max_size=1000),
        _runs(_ALPHABET),
        _runs(_GSM_ONLY),
    ),
    stop=st.booleans(),
)
@example(text="a" * 152 + "€" + "a" * 152, stop=False)
@example(text="a" * 140 + "€", stop=True)  # the extension character lands at unit 153 with the suffix
@example(text="a" * 66 + "😀" + "a" * 66, stop=False)
@example(text="😀" * 200, stop=True)
def test_emulator_counter_agrees_with_the_provider(text: str, stop: bool) -> None:
    full = text + " " * STOP_SUFFIX_LENGTH if stop else text
    assert gsm.count(full) == count_segments(full)
    assert gsm.STOP_SUFFIX_LENGTH == STOP_SUFFIX_LENGTH
