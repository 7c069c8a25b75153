"""Long bad-input fuzz run: the CI fuzz targets (tests/reliability) with a budget of 100,000+ examples.

    .venv/bin/python bench/fuzz.py                      # 100,000 examples over every target
    .venv/bin/python bench/fuzz.py --examples 7000 --target send_sms_operator --seed 1
    .venv/bin/python bench/fuzz.py --jobs 2                     # the targets shared by 2 processes

Each target is seeded on its own, so ``--jobs`` changes the wall time, never the examples run.

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
import json
import logging
import os
import shutil
import subprocess
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


#: Seconds per 1,000 examples of each target (``make fuzz --jobs 2`` in a CI run, 2026-12-01, 2 cores;
#: client_send scaled down from that run after async clients stopped loading the CA bundle each):
#: how --jobs shares them. Only the split depends on it, never the examples.
SECONDS_PER_1000 = {
    "send_sms_operator": 11.2, "blacklist": 9.4, "notifier": 6.9, "client_send": 6.6,
    "hlr_operator": 6.4, "campaign_report": 5.6, "credit_sensor": 4.1,
}  # fmt: skip


def _in_processes(names: list[str], jobs: int, args: argparse.Namespace, say: Any) -> int:
    """Share the targets among ``jobs`` processes of this script (longest first, each to the least loaded
    process, by :data:`SECONDS_PER_1000`); merge their reports."""
    groups: list[list[str]] = [[] for _ in range(min(jobs, len(names)))]
    loads = [0.0] * len(groups)
    for name in sorted(names, key=lambda n: -SECONDS_PER_1000.get(n, 5.0)):
        lightest = loads.index(min(loads))
        groups[lightest].append(name)
        loads[lightest] += SECONDS_PER_1000.get(name, 5.0)
    per_target = -(-args.examples // len(names))
    with tempfile.TemporaryDirectory(prefix="isendpro-fuzz-jobs-") as tmp:
        procs = []
        for number, group in enumerate(groups):
            out = Path(tmp, f"job{number}.json")
            command = [sys.executable, __file__, "--examples", str(per_target * len(group)),
                       "--show", str(args.show), "--report-json", str(out)]  # fmt: skip
            command += ["--seed", str(args.seed)] if args.seed is not None else []
            for name in group:
                command += ["--target", name]
            procs.append((subprocess.Popen(command, stdout=subprocess.DEVNULL), out))
        reports: dict[str, Any] = {}
        for proc, out in procs:
            if proc.wait() not in (0, 1) or not out.exists():
                say(f"a fuzz process ended with exit status {proc.returncode} and no report")
                return 2
            reports.update(json.loads(out.read_text()))
    return _print_report([(name, *reports[name]) for name in names], say)


def _print_report(rows: list[tuple[str, dict[str, int], list[str], float]], say: Any) -> int:
    """The per-target table and the first failing inputs; 1 if any example broke the contract."""
    header = (
        f"{'target':<20}{'examples':>10}{'accepted':>10}{'rejected':>10}{'other':>7}{'seconds':>9}  labels"
    )
    say(header)
    say("-" * len(header))
    totals: Counter[str] = Counter()
    shown: list[str] = []
    for name, raw, failures, elapsed in rows:
        counts = Counter(raw)
        labels = ", ".join(f"{k[6:]}={v}" for k, v in sorted(counts.items()) if k.startswith("label:"))
        say(
            f"{name:<20}{counts['examples']:>10,}{counts['valid']:>10,}{counts['rejected']:>10,}"
            f"{counts['other']:>7,}{elapsed:>9.1f}  {labels}"
        )
        totals.update({k: v for k, v in counts.items() if not k.startswith("label:")})
        shown += [f"[{name}] {failure}" for failure in failures]
    say("-" * len(header))
    say(
        f"{'total':<20}{totals['examples']:>10,}{totals['valid']:>10,}{totals['rejected']:>10,}{totals['other']:>7,}"
    )
    for failure in shown:
        say(failure)
    return 1 if totals["other"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100_000, help="examples in total, split over targets")
    parser.add_argument("--target", action="append", help="only this target (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    parser.add_argument("--show", type=int, default=5, help="failing inputs shown per target")
    parser.add_argument("--jobs", type=int, default=1, help="processes sharing the targets (default 1)")
    parser.add_argument("--report-json", help=argparse.SUPPRESS)  # a --jobs worker's report
    args = parser.parse_args(argv)
    started = time.monotonic()
    _isolated_airflow_home()  # before anything imports Airflow
    sys.path.insert(0, str(ROOT))

    def say(text: str = "") -> None:
        print(text, file=report, flush=True)

    from tests.reliability.harness import TARGETS

    names = args.target or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {sorted(TARGETS)}")
    if args.jobs > 1:
        report = sys.stdout
        status = _in_processes(names, args.jobs, args, say)
        processes = min(args.jobs, len(names))
        say(f"({len(names)} targets in {processes} processes, {time.monotonic() - started:.0f} s)")
        return status

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    # Task logs go to the console through Airflow's structlog set-up: send fds 1 and 2 to /dev/null and
    # print the report on a copy of the original stdout.
    report = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    from airflow_provider_isendpro.testing import IsendproEmulator
    from tests.reliability.conftest import KEY
    from tests.reliability.harness import make_env

    per_target = -(-args.examples // len(names))
    emulator = IsendproEmulator(api_keys=(KEY,))
    emulator.configure(record_sent=False)
    emulator.start()
    rows: list[tuple[str, dict[str, int], list[str], float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="isendpro-fuzz-work-") as work:
            env = make_env(emulator, Path(work))
            for name in names:
                target_started = time.monotonic()
                counts, failures = _fuzz(name, per_target, env, args.seed, args.show)
                rows.append((name, dict(counts), failures, time.monotonic() - target_started))
    finally:
        emulator.stop()
    if args.report_json:
        Path(args.report_json).write_text(json.dumps({name: rest for name, *rest in rows}))
        return 1 if any(counts.get("other") for _, counts, _, _ in rows) else 0
    return _print_report(rows, say)


if __name__ == "__main__":
    raise SystemExit(main())
