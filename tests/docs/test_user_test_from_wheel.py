"""The README's user test, run as a user runs it: in a project outside this repository, against the wheel.

The wheel is built from this checkout and installed (with the pinned constraints) into a fresh venv; the
project gets the README's ``pytest.ini``, the tutorial's DAG file and the README's test file, verbatim.
Nothing of the checkout is importable there: the test also checks that the package comes from the venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.docs.snippets import ROOT, named_block

pytestmark = pytest.mark.integration

#: A user's two tests of one failing DAG with the README's notifier: each must pass whichever runs first
#: (the kit gives each run empty alert markers and throttle windows) and see why the task failed.
ALERT_TESTS = """
import pytest


@pytest.fixture(autouse=True)
def oncall_phone(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_ONCALL_PHONE", "06 12 34 56 78")


def run_and_check(isendpro_dag_test):
    result = isendpro_dag_test.run("dags/etl_sales.py")
    assert result.state == "failed"
    assert [sms.tel for sms in result.sms] == ["0612345678"]
    failure = result.failures["load"]
    assert (failure.exception_type, failure.message) == ("ValueError", "bad row 42")
    assert "[error] Task failed with exception" in failure.log_tail
    assert "ValueError: bad row 42" in failure.log_tail.splitlines()


def test_alert_a(isendpro_dag_test):
    run_and_check(isendpro_dag_test)


def test_alert_b(isendpro_dag_test):
    run_and_check(isendpro_dag_test)
"""


def _run(argv: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=600, check=False, **kwargs
    )
    assert done.returncode == 0, f"{argv} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def test_readme_user_test_passes_outside_the_repo_against_the_wheel(tmp_path: Path) -> None:
    # uv: beside this interpreter (make install puts it in .venv), else the checkout's .venv (make matrix's
    # venvs run this test on other Pythons without one of their own).
    candidates = [Path(sys.executable).with_name("uv"), ROOT / ".venv" / "bin" / "uv"]
    uv = next((c for c in candidates if c.exists()), None)
    assert uv is not None, f"uv is missing from {[str(c) for c in candidates]}: run make install"
    dist, venv, project = tmp_path / "dist", tmp_path / "venv", tmp_path / "project"
    _run([uv, "build", "--wheel", "--out-dir", dist, ROOT])
    [wheel] = dist.glob("airflow_provider_isendpro-*.whl")
    _run([uv, "venv", "-q", "-p", sys.executable, venv])
    python = venv / "bin" / "python"
    _run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "-p",
            python,
            "-c",
            ROOT / "constraints.txt",
            "--compile-bytecode",
            wheel,
            "pytest",
        ]
    )

    (project / "dags").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pytest.ini").write_text(named_block("snippet", "user-pytest-ini").code, encoding="utf-8")
    (project / "dags" / "first_sms.py").write_text(named_block("snippet", "first-dag").code, encoding="utf-8")
    (project / "tests" / "test_first_sms.py").write_text(
        named_block("snippet", "user-test").code, encoding="utf-8"
    )
    (project / "dags" / "etl_sales.py").write_text(
        named_block("snippet", "oncall-alert").code, encoding="utf-8"
    )
    (project / "tests" / "test_alerts.py").write_text(ALERT_TESTS, encoding="utf-8")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    where = _run(
        [python, "-c", "import airflow_provider_isendpro as p; print(p.__file__)"], cwd=project, env=env
    )
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    first_sms = "tests/test_first_sms.py"
    a, b = "tests/test_alerts.py::test_alert_a", "tests/test_alerts.py::test_alert_b"
    for order in ([first_sms, a, b], [b, a]):
        done = subprocess.run(
            [str(python), "-m", "pytest", "-v", "-p", "no:cacheprovider", *order],
            cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        ran = [line.split(" ")[0] for line in done.stdout.splitlines() if line.endswith("%]")]
        assert ran == [
            ("tests/test_first_sms.py::test_first_sms_tells_ops" if n == first_sms else n) for n in order
        ]
        assert f"{len(order)} passed" in done.stdout.splitlines()[-1], done.stdout
        assert "Bundle 'dags-folder' path does not exist" not in done.stdout + done.stderr
