"""Segment-counting throughput: ``count_segments`` vs an oracle built on the ``gsm0338`` codec.

The oracle encodes with ``gsm03.38`` (UCS-2 on ``UnicodeEncodeError``) and walks the encoded stream
with a straightforward greedy splitter; both are run on the same deterministic messages, and their
answers are compared on a sample first so the race is between equal results.

    .venv/bin/python bench/segments.py            # 1,000,000 messages
    .venv/bin/python bench/segments.py --n 50000  # quick run
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec

from airflow_provider_isendpro.sms import count_segments

WORDS = [
    "bonjour",
    "votre",
    "commande",
    "est",
    "prete",
    "livraison",
    "demain",
    "entre",
    "et",
    "rendez-vous",
    "le",
    "confirme",
    "annuler",
    "code",
    "promo",
    "offre",
    "speciale",
    "magasin",
    "client",
    "merci",
    "pour",
    "fidelite",
    "repondez",
    "STOP",
    "au",
    "numero",
    "colis",
    "retrait",
    "point",
    "relais",
    "facture",
    "paiement",
    "recu",
    "rappel",
    "abonnement",
    "expire",
]
GSM_ACCENTED = ["été", "à", "où", "déjà", "réservé", "Ça", "Élise", "Müller"]  # é è à ù É Ç: GSM, not ASCII
EXTENSION = ["5€", "{code}", "[info]", "10 €", "a|b", "~20"]
UCS2_FRENCH = ["L’équipe", "« offre »", "œuvre", "Noël", "hôtel", "fête", "n° 12", "ça", "—", "…"]
EMOJI = ["😀", "🎉", "📦", "👍"]
# (weight, extra vocabulary, min words, max words)
KINDS = [
    (40, [], 4, 25),  # short plain GSM: the common case
    (12, [], 30, 140),  # long plain GSM
    (10, GSM_ACCENTED, 4, 25),
    (10, EXTENSION, 4, 60),
    (15, UCS2_FRENCH, 4, 25),
    (5, UCS2_FRENCH, 20, 60),
    (8, EMOJI, 3, 20),
]


def generate(n: int, seed: int = 3) -> list[str]:
    """``n`` deterministic French-looking messages in the proportions of ``KINDS``."""
    rng = random.Random(seed)
    weights = [k[0] for k in KINDS]
    messages = []
    for kind in rng.choices(KINDS, weights, k=n):
        _, extra, low, high = kind
        words = rng.choices(WORDS, k=rng.randint(low, high))
        for _ in range(rng.randint(1, 3) if extra else 0):
            words.insert(rng.randrange(len(words) + 1), rng.choice(extra))
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words) + 1), "\n")
        messages.append(" ".join(words).capitalize())
    return messages


def oracle(text: str) -> tuple[str, int, int]:
    """gsm0338 encode + greedy splitter over the encoded units (ESC pairs and surrogates never split)."""
    try:
        data = text.encode("gsm03.38")
    except UnicodeEncodeError:
        raw = text.encode("utf-16-le")
        codes = memoryview(raw).cast("H")
        encoding, single, per_part, total = "UCS-2", 70, 67, len(codes)
        pair = [2 if 0xD800 <= c <= 0xDBFF else 1 for c in codes]
    else:
        encoding, single, per_part, total = "GSM-7", 160, 153, len(data)
        pair = [2 if b == 0x1B else 1 for b in data]
    if total <= single:
        return encoding, total, 1 if total else 0
    parts, used, i = 1, 0, 0
    while i < total:
        unit = pair[i]
        if used + unit > per_part:
            parts, used = parts + 1, 0
        used += unit
        i += unit
    return encoding, total, parts


def rate(func: Callable[[str], object], messages: list[str]) -> float:
    start = time.perf_counter()
    for message in messages:
        func(message)
    return len(messages) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="number of messages (default 1,000,000)")
    args = parser.parse_args()

    messages = generate(args.n)
    sample = messages[:20_000]
    mismatches = [m for m in sample if count_segments(m) != oracle(m)]
    assert not mismatches, f"count_segments disagrees with the oracle on {mismatches[:3]!r}"
    ucs2 = sum(1 for m in sample if count_segments(m)[0] == "UCS-2")
    multi = sum(1 for m in sample if count_segments(m)[2] > 1)
    print(
        f"{args.n:,} messages; in the first {len(sample):,}: {ucs2 / len(sample):.0%} UCS-2, "
        f"{multi / len(sample):.0%} multi-part; results identical to the oracle"
    )

    ours = rate(count_segments, messages)
    theirs = rate(oracle, messages)
    print(f"count_segments : {ours:>12,.0f} messages/s")
    print(f"gsm0338 oracle : {theirs:>12,.0f} messages/s")
    print(f"ratio          : {ours / theirs:>12.1f}x")


if __name__ == "__main__":
    main()
