"""Long bad-input fuzz run: the CI fuzz targets (tests/reliability) with a budget of 100,000+ examples.

    .venv/bin/python bench/fuzz.py                      # 100,000 examples over every target
    .venv/bin/python bench/fuzz.py --examples 7000 --target send_sms_operator --seed 1

Each example builds an operator (sensor, notifier, client call) from Hypothesis-generated input, renders
it and runs it against an in-process emulator; the contract is ``tests/reliability/harness.run_case``:
only ``IsendproValidationError`` (naming the parameter) may come out, and then no request and no ledger
write happened; invalid input is refused, valid input accepted, and nothing malformed reaches iSendPro.
Prints, per target: examples run, accepted, rejected with a validation error, and other outcomes, which
must be 0 (the exit status is 1 otherwise, with the first failing inputs).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _isolated_airflow_home() -> str:
    home = tempfile.mkdtemp(prefix="isendpro-fuzz-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
        del os.environ[name]
    return home


def _fuzz(name: str, examples: int, env: Any, seed: int | None, keep: int) -> tuple[Counter[str], list[str]]:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    from tests.reliability.harness import TARGETS, Case, run_case

    target = TARGETS[name]
    counts: Counter[str] = Counter()
    failures: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=target.strategy)
    def check(case: Case) -> None:
        counts["examples"] += 1
        counts[f"label:{case.label}"] += 1
        try:
            counts[run_case(target, case, env)] += 1
        except Exception as exc:  # counted and reported, never raised: the run goes on
            counts["other"] += 1
            if len(failures) < keep:
                failures.append(f"{type(exc).__name__}: {str(exc)[:300]}\n      input: {case!r:.600}")

    if seed is not None:
        check = hypothesis_seed(seed)(check)
    check()
    return counts, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100_000, help="examples in total, split over targets")
    parser.add_argument("--target", action="append", help="only this target (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    parser.add_argument("--show", type=int, default=5, help="failing inputs shown per target")
    args = parser.parse_args(argv)

    _isolated_airflow_home()
    sys.path.insert(0, str(ROOT))
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    # Task logs go to the console through Airflow's structlog set-up: send fds 1 and 2 to /dev/null and
    # print the report on a copy of the original stdout.
    report = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def say(text: str = "") -> None:
        print(text, file=report, flush=True)

    from airflow_provider_isendpro.testing import IsendproEmulator
    from tests.reliability.conftest import KEY
    from tests.reliability.harness import TARGETS, make_env

    names = args.target or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {sorted(TARGETS)}")
    per_target = -(-args.examples // len(names))
    emulator = IsendproEmulator(api_keys=(KEY,))
    emulator.configure(record_sent=False)
    emulator.start()
    totals: Counter[str] = Counter()
    header = (
        f"{'target':<20}{'examples':>10}{'accepted':>10}{'rejected':>10}{'other':>7}{'seconds':>9}  labels"
    )
    say(header)
    say("-" * len(header))
    shown: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="isendpro-fuzz-work-") as work:
            env = make_env(emulator, Path(work))
            for name in names:
                started = time.monotonic()
                counts, failures = _fuzz(name, per_target, env, args.seed, args.show)
                elapsed = time.monotonic() - started
                labels = ", ".join(
                    f"{k[6:]}={v}" for k, v in sorted(counts.items()) if k.startswith("label:")
                )
                say(
                    f"{name:<20}{counts['examples']:>10,}{counts['valid']:>10,}{counts['rejected']:>10,}"
                    f"{counts['other']:>7,}{elapsed:>9.1f}  {labels}"
                )
                totals.update({k: v for k, v in counts.items() if not k.startswith("label:")})
                shown += [f"[{name}] {failure}" for failure in failures]
    finally:
        emulator.stop()
    say("-" * len(header))
    say(
        f"{'total':<20}{totals['examples']:>10,}{totals['valid']:>10,}{totals['rejected']:>10,}{totals['other']:>7,}"
    )
    for failure in shown:
        say(failure)
    return 1 if totals["other"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
