"""The lock files: one per supported Airflow minor, and the main lock accepts a distributed deployment."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT

LOCKS = {
    "3.1": ROOT / "constraints" / "airflow-3.1.txt",
    "3.2": ROOT / "constraints" / "airflow-3.2.txt",
    "3.3": ROOT / "constraints.txt",
}
#: What Celery/Kubernetes deployments, the S3 ledger and the contract tests install beside the provider.
DEPLOYMENT = [
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-celery",
    "apache-airflow-providers-cncf-kubernetes",
    "s3fs",
    "redis",
    "psycopg2-binary",
    "asyncpg",
    "moto[server]",
    "openapi-core",
    "schemathesis",
]


def pins(lock: Path) -> dict[str, list[str]]:
    """``{name: [version, ...]}`` (several when a universal lock pins per Python version)."""
    found: dict[str, list[str]] = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if match:
            found.setdefault(match.group(1).lower(), []).append(match.group(2))
    return found


def uv() -> str:
    """uv: beside this interpreter, in the project's .venv, or on PATH (a missing uv fails the test)."""
    for candidate in (Path(sys.executable).with_name("uv"), ROOT / ".venv" / "bin" / "uv"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("uv")
    assert found, "uv not found: run make install"
    return found


@pytest.mark.parametrize("minor", sorted(LOCKS))
def test_each_lock_pins_the_latest_tested_patch_of_its_minor(minor: str) -> None:
    lock = pins(LOCKS[minor])
    inputs = (ROOT / "constraints" / f"airflow-{minor}.in").read_text()
    [wanted] = re.findall(r"^apache-airflow==(\S+)$", inputs, re.MULTILINE)
    assert wanted.startswith(f"{minor}.")
    assert lock["apache-airflow"] == [wanted]
    assert lock["apache-airflow-core"] == [wanted]
    for name in ("pytest", "hypothesis", "build", "twine", "hatchling"):  # the test extra is in every lock
        assert name in lock, name
    assert all(int(v.split(".")[0]) < 3 for v in lock["python-dateutil"])


def test_main_lock_was_resolved_with_the_deployment_packages() -> None:
    lock = pins(LOCKS["3.3"])
    for requirement in DEPLOYMENT:
        assert requirement.split("[")[0] in lock, requirement


def test_main_lock_accepts_the_deployment_packages() -> None:
    # A real resolution (uv, --dry-run: nothing is installed) of every package against the lock.
    result = subprocess.run(
        [uv(), "pip", "install", "--dry-run", "-p", sys.executable, "-c", str(LOCKS["3.3"]), *DEPLOYMENT],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Would " in result.stderr or "Audited" in result.stderr, result.stderr
