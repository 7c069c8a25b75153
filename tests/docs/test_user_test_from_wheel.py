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

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    where = _run(
        [python, "-c", "import airflow_provider_isendpro as p; print(p.__file__)"], cwd=project, env=env
    )
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed"), done.stdout
