"""Number-normalisation throughput: ``normalise_number`` vs plain ``phonenumbers.parse`` + ``format_number``.

The baseline does less work than we do (no validity check, no type, no overseas handling), so the
ratio understates the gain. Two figures: a realistic French mix, and clean mobiles only (the fast path).

    .venv/bin/python bench/phones.py            # 1,000,000 numbers per list
    .venv/bin/python bench/phones.py --n 50000  # quick run
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import phonenumbers

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.sms import normalise_number

MOBILE_PREFIXES = ["60", "61", "62", "64", "65", "66", "67", "68", "73", "74", "75", "76", "77", "78"]
CLEAN_FORMATS = [
    lambda n: "0" + n,
    lambda n: "0" + " ".join([n[0], n[1:3], n[3:5], n[5:7], n[7:9]]),
    lambda n: "+33" + n,
    lambda n: "33" + n,
    lambda n: "0033" + n,
    lambda n: "0" + ".".join([n[0], n[1:3], n[3:5], n[5:7], n[7:9]]),
]
OTHER = [
    lambda r: "+33 (0)" + r.choice(MOBILE_PREFIXES)[0] + " " + _digits(r, 8),  # "(0)" form
    lambda r: "069" + r.choice("0234567") + _digits(r, 6),  # overseas departments
    lambda r: "01" + _digits(r, 8),  # landline: refused
    lambda r: "0712" + _digits(r, 6),  # unallocated: refused in strict mode
    lambda r: "06" + _digits(r, 7),  # too short
    lambda r: "+32 47" + _digits(r, 7),  # Belgian mobile
    lambda r: "06 12 AB",  # garbage
]


def _digits(rng: random.Random, k: int) -> str:
    return "".join(rng.choices("0123456789", k=k))


def clean_mobiles(n: int, rng: random.Random) -> list[str]:
    """Already-clean metropolitan mobiles in the spellings files actually contain."""
    return [rng.choice(CLEAN_FORMATS)(rng.choice(MOBILE_PREFIXES) + _digits(rng, 7)) for _ in range(n)]


def mixed(n: int, rng: random.Random) -> list[str]:
    """85% clean mobiles, 15% everything else (overseas, landlines, foreign, invalid)."""
    numbers = clean_mobiles(n, rng)
    for i in range(n):
        if rng.random() < 0.15:
            numbers[i] = rng.choice(OTHER)(rng)
    return numbers


def ours(raw: str) -> object:
    try:
        return normalise_number(raw).wire
    except IsendproValidationError:
        return None


def plain(raw: str) -> object:
    try:
        return phonenumbers.format_number(phonenumbers.parse(raw, "FR"), phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return None


def rate(func: Callable[[str], object], numbers: list[str]) -> float:
    start = time.perf_counter()
    for number in numbers:
        func(number)
    return len(numbers) / (time.perf_counter() - start)


def race(label: str, numbers: list[str]) -> None:
    ours(numbers[0])  # load the metadata outside the timing, for both sides
    plain(numbers[0])
    a, b = rate(ours, numbers), rate(plain, numbers)
    print(f"{label}")
    print(f"  normalise_number          : {a:>12,.0f} numbers/s")
    print(f"  phonenumbers parse+format : {b:>12,.0f} numbers/s")
    print(f"  ratio                     : {a / b:>12.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="numbers per list (default 1,000,000)")
    args = parser.parse_args()
    rng = random.Random(5)
    race(f"mixed French numbers (n={args.n:,})", mixed(args.n, rng))
    race(f"clean mobiles only (n={args.n:,})", clean_mobiles(args.n, rng))


if __name__ == "__main__":
    main()
