"""Long fuzz run of the delivery-receipt receiver (the contract in tests/receipts/fuzzing.py).

    .venv/bin/python bench/fuzz_receipts.py                        # 10,000 examples, random seed
    .venv/bin/python bench/fuzz_receipts.py --examples 3000 --seed 7

Each example is one HTTP request (sometimes sent twice) to the receiver mounted under /isendpro, through
httpx's ASGI transport, with a local ledger: a right, near-miss, wrong, missing, oversized or junk secret;
fuzzed parameter names and values, repeats, extras, junk query strings and bodies; every method; the
receiver configured for GET, POST or ANY. Prints the examples run per label (what the oracle expects) and
per outcome (stored, replayed, or the refusal's status), the contract failures, which must be 0 (exit
status 1 otherwise, with the first failing inputs), and the seconds taken.
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

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    parser.add_argument("--show", type=int, default=5, help="failing inputs shown")
    args = parser.parse_args(argv)
    started = time.monotonic()
    home = tempfile.mkdtemp(prefix="isendpro-fuzz-receipts-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["AIRFLOW_HOME"] = home  # before anything imports Airflow
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    sys.path.insert(0, str(ROOT))
    warnings.simplefilter("ignore")
    # The receiver logs each refusal at INFO to the console: keep the report readable.
    report = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    from tests.receipts.fuzzing import ReceiverCase, ReceiverEnv, check, receiver_cases

    labels: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []

    with ReceiverEnv(Path(home) / "ledger") as env:

        @settings(
            max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=receiver_cases())
        def run(case: ReceiverCase) -> None:
            labels[case.label] += 1
            try:
                outcomes[check(env, case)] += 1
            except Exception as exc:  # counted and reported, never raised: the run goes on
                outcomes["FAILED"] += 1
                if len(failures) < args.show:
                    failures.append(f"{type(exc).__name__}: {str(exc)[:300]}\n      input: {case!r:.600}")

        if args.seed is not None:
            run = hypothesis_seed(args.seed)(run)
        run()
    logging.shutdown()
    elapsed = time.monotonic() - started
    examples = sum(labels.values())
    say = lambda text="": print(text, file=report, flush=True)  # noqa: E731
    say(f"receiver fuzz: {examples:,} examples in {elapsed:.1f} s (seed {args.seed})")
    say("  by label:   " + ", ".join(f"{k}={v:,}" for k, v in sorted(labels.items())))
    accepted = outcomes["stored"] + outcomes["replay"]
    say(f"  accepted:   {accepted:,} (stored={outcomes['stored']:,}, already stored={outcomes['replay']:,})")
    refused = {k: v for k, v in sorted(outcomes.items()) if k.isdigit()}
    say(
        f"  refused:    {sum(refused.values()):,} ("
        + ", ".join(f"{k}={v:,}" for k, v in refused.items())
        + ")"
    )
    if outcomes["unsendable"]:
        say(f"  unsendable: {outcomes['unsendable']:,} (URL over httpx's 65,536 characters: not sent)")
    say(f"  failures:   {outcomes['FAILED']:,}")
    for failure in failures:
        say(f"  {failure}")
    return 1 if outcomes["FAILED"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
