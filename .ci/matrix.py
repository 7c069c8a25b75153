#!/usr/bin/env python3
"""The support matrix: every Airflow minor and Python version the package claims, each run in CI.

``make matrix`` (called by ``.ci/run`` after ``make test``) builds one venv per row under ``.matrix/``
(git-ignored) from the row's lock file, runs the row's tests there, prints a table (Airflow, Python, tests,
passed, failed, seconds) and fails unless every row is green, each venv holds the Airflow of its lock, and
README.md's support table is the one generated from ``ROWS`` below.

The pinned row (Airflow 3.3, Python 3.11) is ``make test`` itself: its pytest writes
``.matrix/airflow-3.3-py3.11.xml`` and this script reads it rather than running the suite twice (it runs
the suite in ``.venv`` only when that report is missing).

Other entry points: ``--readme-table`` prints the support table, ``--write-readme`` puts it between the
README's markers, ``--check-readme`` compares them (also done by ``tests/packaging``), ``--row 3.2`` runs
only the rows of one Airflow minor. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATRIX_DIR = ROOT / ".matrix"
README = ROOT / "README.md"
START, END = "<!-- support-table:start -->", "<!-- support-table:end -->"

#: What Airflow 3.1 and 3.2 rows run: the user-facing parts (client, hook, operators, sensors, triggers,
#: notifier, the delivery-receipt receiver on the API server) and the example DAGs under dag.test(), plus
#: provider registration.
CORE_TESTS = (
    "tests/client",
    "tests/hooks",
    "tests/operators",
    "tests/sensors",
    "tests/triggers",
    "tests/notifications",
    "tests/examples",
    "tests/receipts",
    "tests/test_provider.py",
    # 200 mapped tasks under dag.test(): ~55 s on Airflow 3.3, ~440 s on 3.2; the throttle it proves is
    # Airflow-independent and runs on both 3.3 rows.
    "--deselect=tests/notifications/test_storm_dag.py::test_200_mapped_failures_send_two_sms_per_recipient",
)
#: The exhaustive protocol proofs (``-m proof``) run once, beside the pinned row's suite (``make pytest``).
WHOLE_SUITE = ("tests", "-m", "not proof")
CORE_SCOPE = "core tests"
#: What the other Python versions of each minor run: every Airflow-facing class once, under dag.test().
SMOKE_TESTS = (
    "tests/test_provider.py",
    "tests/hooks",
    "tests/sensors",
    "tests/triggers",
    "tests/operators/test_send_sms.py",
    "tests/notifications/test_notifier.py",
    "tests/examples/test_examples_import.py",
)
SMOKE_SCOPE = "smoke tests"
#: A bound per row, far above the measured times, so that a hung Airflow cannot stall CI.
ROW_TIMEOUT = 1800


@dataclass(frozen=True)
class Row:
    airflow: str  # minor, e.g. "3.2"
    python: str  # minor, e.g. "3.11"
    lock: str  # path of the lock file, relative to the repository
    tests: tuple[str, ...]
    scope: str  # what the README says is tested
    pinned: bool = False  # the make-test row (.venv)
    options: tuple[str, ...] = ()  # more pytest options

    @property
    def name(self) -> str:
        return f"airflow-{self.airflow}-py{self.python}"

    @property
    def venv(self) -> Path:
        return ROOT / ".venv" if self.pinned else MATRIX_DIR / self.name

    @property
    def junit(self) -> Path:
        return MATRIX_DIR / f"{self.name}.xml"


LOCK_3_2, LOCK_3_1 = "constraints/airflow-3.2.txt", "constraints/airflow-3.1.txt"
#: Every supported (Airflow, Python) combination, each run by CI.
ROWS = (
    Row("3.3", "3.11", "constraints.txt", WHOLE_SUITE, "whole suite (`make test`)", pinned=True),
    # tests/conftest.py's --shuffle: a new random order each run, its seed printed at the end
    Row(
        "3.3",
        "3.12",
        "constraints.txt",
        SMOKE_TESTS,
        "smoke tests, in random order",
        options=("--shuffle", "random"),
    ),
    Row("3.3", "3.13", "constraints.txt", WHOLE_SUITE, "whole suite but the exhaustive proofs"),
    Row("3.2", "3.11", LOCK_3_2, CORE_TESTS, CORE_SCOPE),
    Row("3.2", "3.12", LOCK_3_2, SMOKE_TESTS, SMOKE_SCOPE),
    Row("3.2", "3.13", LOCK_3_2, SMOKE_TESTS, SMOKE_SCOPE),
    Row("3.1", "3.11", LOCK_3_1, CORE_TESTS, CORE_SCOPE),
    Row("3.1", "3.12", LOCK_3_1, SMOKE_TESTS, SMOKE_SCOPE),
    Row("3.1", "3.13", LOCK_3_1, SMOKE_TESTS, SMOKE_SCOPE),
)

#: What does not work, or works differently, on a minor (shown in the README's support table).
NOTES = {
    "3.3": "reference stack: every feature",
    "3.2": "every feature; under `dag.test()` only, a task-failure alert lacks the error text (3.2's "
    "`dag.test()` leaves `exception` out of the callback context; workers set it)",
    "3.1": "every feature but `IsendproNotifier` as a Deadline Alert callback (Deadline Alerts arrived in "
    "Airflow 3.2); `[isendpro] dlr_secret` from `dlr_secret_cmd`/`dlr_secret_secret` needs 3.2 (set it "
    "directly or by environment variable); same `dag.test()` note as 3.2",
}


# --------------------------------------------------------------------------------------------------
# Locks and the README table


def locked_version(lock: str, package: str = "apache-airflow") -> str:
    """The version ``lock`` pins for ``package`` (``name==version`` lines, as uv writes them)."""
    pattern = re.compile(rf"^{re.escape(package)}==([^\s;]+)", re.MULTILINE | re.IGNORECASE)
    found = pattern.findall((ROOT / lock).read_text())
    if len(found) != 1:
        raise SystemExit(f"{lock}: expected one pin of {package}, found {found or 'none'}")
    return str(found[0])


def support_table() -> str:
    """The README's support table, from ``ROWS`` and the locks (one line per Airflow minor)."""
    lines = [
        "| Airflow | Python | tested in CI (`make matrix`) | notes |",
        "|---|---|---|---|",
    ]
    for minor in sorted({r.airflow for r in ROWS}, key=lambda v: tuple(map(int, v.split("."))), reverse=True):
        rows = [r for r in ROWS if r.airflow == minor]
        version = locked_version(rows[0].lock)
        tested = "; ".join(f"Python {r.python}: {r.scope}" for r in rows)
        pythons = ", ".join(r.python for r in rows)
        lines.append(f"| {minor} (tested on {version}) | {pythons} | {tested} | {NOTES[minor]} |")
    lines.append("")
    lines.append(
        "Python 3.11 to 3.13 are supported (`requires-python >= 3.11`); every combination above runs in CI. "
        "Core tests: client, hook, operators, sensors, triggers, notifier (but the 200-task storm), "
        "delivery-receipt receiver, "
        "example DAGs run; smoke tests: provider "
        "registration, hook, sensor, trigger, `SendSmsOperator`, notifier, example DAGs imported. "
        "Each row installs from its lock: `constraints.txt` (3.3), `constraints/airflow-3.2.txt`, "
        "`constraints/airflow-3.1.txt`."
    )
    return "\n".join(lines)


def readme_table(text: str) -> str | None:
    """What README.md holds between the support-table markers (None when a marker is missing)."""
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def check_readme() -> list[str]:
    """Problems with README.md's support table (empty when it matches ``support_table()``)."""
    if not README.exists():
        return ["README.md is missing"]
    current = readme_table(README.read_text(encoding="utf-8"))
    if current is None:
        return [f"README.md has no support table between {START!r} and {END!r} (run: make support-table)"]
    if current != support_table():
        return ["README.md's support table differs from the matrix's (run: make support-table)"]
    return []


def write_readme() -> None:
    text = README.read_text(encoding="utf-8")
    if readme_table(text) is None:
        raise SystemExit(f"README.md has no {START} ... {END} markers: add them where the table goes")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{support_table()}\n{END}{tail}", encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Running rows


def interpreter(python: str) -> str:
    """A Python ``python`` (e.g. "3.13"): the running one if it matches, else pyenv's, else PATH's."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        return getattr(sys, "_base_executable", sys.executable)
    candidates: list[Path] = []
    root = os.environ.get("PYENV_ROOT") or _pyenv_root()
    if root:
        candidates += sorted(Path(root, "versions").glob(f"{python}.*/bin/python"), reverse=True)
    on_path = shutil.which(f"python{python}")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    raise SystemExit(
        f"make matrix: no Python {python} interpreter found (looked in $(pyenv root)/versions/{python}.*/ "
        f"and for python{python} on PATH). Install it (pyenv install {python}, or your system's "
        f"python{python} package) and run make matrix again."
    )


def _pyenv_root() -> str | None:
    if shutil.which("pyenv") is None:
        return str(Path.home() / ".pyenv") if (Path.home() / ".pyenv").is_dir() else None
    out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def ensure_venv(row: Row, uv: str) -> None:
    """Create or refresh the row's venv from its lock (skipped when lock and pyproject are unchanged)."""
    digest = hashlib.sha256()
    for name in (row.lock, "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    stamp = row.venv / ".matrix-installed"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    python = interpreter(row.python)
    if not (row.venv / "bin" / "python").exists():
        subprocess.run([uv, "venv", "-q", "-p", python, str(row.venv)], check=True)
    env = {**os.environ, "UV_COMPILE_BYTECODE": "1"}
    subprocess.run(
        [uv, "pip", "install", "-q", "-p", str(row.venv / "bin" / "python"), "-c", row.lock, "-e", ".[test]"],
        check=True,
        cwd=ROOT,
        env=env,
    )
    stamp.write_text(digest.hexdigest())


def run_tests(row: Row, log: Path | None = None) -> None:
    """Run the row's tests in its venv, writing its JUnit report (and its output to ``log`` if given).

    Each row has its own pytest ``--basetemp`` under ``.matrix/``, so rows can run side by side.
    """
    row.junit.unlink(missing_ok=True)
    command = [
        "timeout", "-k", "30", str(ROW_TIMEOUT),
        str(row.venv / "bin" / "pytest"), "-p", "no:cacheprovider", "-q",
        f"--basetemp={MATRIX_DIR / (row.name + '.tmp')}", f"--junitxml={row.junit}", *row.options, *row.tests,
    ]  # fmt: skip
    header = f"\n=== {row.name}: {' '.join(row.tests)}"
    if log is None:
        print(header, flush=True)
        subprocess.run(command, cwd=ROOT, check=False)
        return
    with log.open("w") as out:
        out.write(header + "\n")
        out.flush()
        subprocess.run(command, cwd=ROOT, check=False, stdout=out, stderr=subprocess.STDOUT)


def expected_seconds(row: Row) -> int:
    """Roughly how long the row's tests take on 2 cores: the order rows start in. The core rows grew by
    the ways-to-send matrix (353 s on Airflow 3.2, 286 s on 3.1, measured 2026-12-07)."""
    if row.tests == WHOLE_SUITE:
        return 330
    if row.tests == CORE_TESTS:
        return 600
    return 25 if row.airflow == "3.3" else 90  # dag.test() on Airflow 3.1/3.2 is several times slower


def run_row(row: Row, uv: str, jobs: int, printing: threading.Lock) -> Result:
    """Build (or reuse) the row's venv, run its tests and read its report. With ``jobs`` > 1 the row's
    output goes to ``.matrix/<row>.log`` and is printed whole when the row ends."""
    if row.pinned:
        if not row.junit.exists():
            with printing:
                print(f"{row.junit.name} missing (make pytest writes it): suite run in .venv", flush=True)
            run_tests(row)
        return read_junit(row)
    started = time.monotonic()
    ensure_venv(row, uv)
    log = MATRIX_DIR / f"{row.name}.log" if jobs > 1 else None
    run_tests(row, log)
    result = read_junit(row)
    if log is not None:
        with printing:
            print(log.read_text(), end="", flush=True)
            print(f"--- {row.name}: {time.monotonic() - started:.0f} s with its venv", flush=True)
    return result


@dataclass
class Result:
    row: Row
    airflow_installed: str
    python_installed: str
    tests: int
    passed: int
    failed: int
    skipped: int
    seconds: float

    @property
    def green(self) -> bool:
        return self.tests > 0 and self.failed == 0 and self.airflow_installed == locked_version(self.row.lock)


def installed(row: Row) -> tuple[str, str]:
    """(Airflow version, Python version) installed in the row's venv."""
    code = (
        "import importlib.metadata as m, platform; "
        "print(m.version('apache-airflow'), platform.python_version())"
    )
    out = subprocess.run(
        [str(row.venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    airflow, python = out.stdout.split()
    return airflow, python


def read_junit(row: Row) -> Result:
    airflow, python = installed(row)
    if not row.junit.exists():
        return Result(row, airflow, python, 0, 0, 1, 0, 0.0)
    root = ET.parse(row.junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None, f"{row.junit}: no testsuite"
    tests, failures, errors, skipped = (
        int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")
    )
    return Result(
        row, airflow, python, tests, tests - failures - errors - skipped, failures + errors, skipped,
        float(suite.get("time", "0")),
    )  # fmt: skip


def failing_tests(row: Row) -> list[str]:
    """``test id: first line of the failure`` for each failed or erroring test in the row's report."""
    if not row.junit.exists():
        return [f"{row.junit.name}: no report (the row did not run to the end)"]
    out = []
    for case in ET.parse(row.junit).getroot().iter("testcase"):
        for problem in (*case.findall("failure"), *case.findall("error")):
            message = (problem.get("message") or "").strip().splitlines() or [""]
            test_id = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
            out.append(f"{test_id}: {message[0][:300]}")
    return out


def table(results: list[Result]) -> str:
    lines = [
        "| Airflow | Python | tests run | passed | failed | skipped | seconds | green |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        scope = {WHOLE_SUITE: "whole suite", CORE_TESTS: "core", SMOKE_TESTS: "smoke"}[r.row.tests]
        lines.append(
            f"| {r.airflow_installed} | {r.python_installed} | {scope} | {r.passed} | {r.failed} | "
            f"{r.skipped} | {r.seconds:.0f} | {'yes' if r.green else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--row", action="append", help="run only the rows of this Airflow minor (repeatable)")
    parser.add_argument("--readme-table", action="store_true", help="print the README support table")
    parser.add_argument("--write-readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--check-readme", action="store_true", help="check README.md's table")
    parser.add_argument("--jobs", type=int, default=1, help="rows run at the same time (default 1)")
    args = parser.parse_args()
    if args.readme_table:
        print(support_table())
        return 0
    if args.write_readme:
        write_readme()
        return 0
    if args.check_readme:
        problems = check_readme()
        print("\n".join(problems) or "README.md support table: up to date")
        return 1 if problems else 0

    uv = str(ROOT / ".venv" / "bin" / "uv")
    MATRIX_DIR.mkdir(exist_ok=True)
    rows = [r for r in ROWS if not args.row or r.airflow in args.row]
    started = time.monotonic()
    printing = threading.Lock()
    order = sorted(rows, key=lambda r: -expected_seconds(r))  # longest first: the last to start are short
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        futures = {row: pool.submit(run_row, row, uv, args.jobs, printing) for row in order}
        results = [futures[row].result() for row in rows]
    print(f"\nSupport matrix ({time.monotonic() - started:.0f} s with venvs, {args.jobs} rows at a time)\n")
    print(table(results))
    problems = []
    for r in results:
        if not r.green:
            problems.append(f"row {r.row.name} is not green")
            problems += [f"  {line}" for line in failing_tests(r.row)]
    problems += check_readme()
    if problems:
        print("\n" + "\n".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
