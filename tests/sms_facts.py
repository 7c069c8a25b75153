"""SMS-FACTS §3.1 segment-counting vectors with the values written out: one table for both counters (the
provider's ``sms/text.py`` and the emulator's independent ``testing/gsm.py``)."""

from __future__ import annotations

#: (text, encoding, units, segments)
VECTORS = [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),
    ("€" * 81, "GSM-7", 162, 2),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
    ("a" * 918, "GSM-7", 918, 6),
    ("a" * 919, "GSM-7", 919, 7),
    ("ç" * 70, "UCS-2", 70, 1),
    ("ç" * 71, "UCS-2", 71, 2),
    ("ç" * 134, "UCS-2", 134, 2),
    ("ç" * 135, "UCS-2", 135, 3),
    ("😀" * 35, "UCS-2", 70, 1),
    ("😀" * 36, "UCS-2", 72, 2),
    ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),
    ("L’équipe", "UCS-2", 8, 1),
    ("L'équipe", "GSM-7", 8, 1),
    # The STOP rows: the text plus the 12 one-unit characters of the STOP suffix.
    ("a" * 148 + "x" * 12, "GSM-7", 160, 1),
    ("a" * 149 + "x" * 12, "GSM-7", 161, 2),
]
