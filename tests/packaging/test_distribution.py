"""The package as published: sdist and wheel build, pass ``twine check --strict``, hold what they should."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib

from tests.packaging.conftest import ROOT, Dist

PACKAGE = "airflow_provider_isendpro"


def test_twine_check_strict_passes(dist: Dist) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist.sdist), str(dist.wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_wheel_holds_the_package_and_nothing_else(dist: Dist) -> None:
    names = dist.wheel_names()
    package = {n for n in names if not n.startswith("airflow_provider_isendpro-")}
    source = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / PACKAGE).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert package == source  # every module, the spec and py.typed; no stray file
    assert f"{PACKAGE}/py.typed" in package
    assert f"{PACKAGE}/testing/openapi.json" in package
    for outside in ("tests/", "bench/", "e2e/", "dags_examples/", "docs/", "constraints"):
        assert not [n for n in names if n.startswith(outside)], outside
    info = sorted(n.split("/", 1)[1] for n in names if n.startswith("airflow_provider_isendpro-"))
    assert info == [
        "METADATA",
        "RECORD",
        "WHEEL",
        "entry_points.txt",
        "licenses/LICENSE",
        "licenses/NOTICE",
    ]


def test_wheel_metadata(dist: Dist) -> None:
    meta = dist.metadata()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["Name"] == "airflow-provider-isendpro"
    assert meta["Version"] == project["version"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE", "NOTICE"]
    assert float(meta["Metadata-Version"]) >= 2.4  # PEP 639
    assert meta["Description-Content-Type"] == "text/markdown"
    requires = meta.get_all("Requires-Dist") or []
    base = sorted(r for r in requires if "extra ==" not in r)
    assert base == [
        "apache-airflow-providers-common-compat>=1.23",
        "apache-airflow<4,>=3.1",
        "httpx>=0.27",
        "pendulum>=3.0",
        "phonenumbers>=8.13",
        "requests<3,>=2.32",
    ]
    classifiers = meta.get_all("Classifier") or []
    assert {c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")} == {
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    }
    assert "Development Status :: 4 - Beta" in classifiers
    assert "Topic :: Communications :: Telephony" in classifiers
    assert "Typing :: Typed" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression says it
    entry_points = dist.wheel_text("airflow_provider_isendpro-0.1.0.dist-info/entry_points.txt")
    assert (
        "[apache_airflow_provider]\nprovider_info = airflow_provider_isendpro.get_provider_info:"
        in entry_points
    )
    assert "[pytest11]\nisendpro = airflow_provider_isendpro.testing.pytest_plugin" in entry_points
    # the delivery-receipt receiver: Airflow loads a provider's listed plugins only without lazy discovery
    assert (
        "[airflow.plugins]\nisendpro_receipts = "
        "airflow_provider_isendpro.receipts.plugin:IsendproReceiptsPlugin" in entry_points
    )


def test_long_description_is_the_readme_with_absolute_links(dist: Dist) -> None:
    """The package index shows the README outside the repository: every link there must be absolute."""
    description = dist.metadata().get_payload()
    assert isinstance(description, str)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    repo = "https://github.com/isendpro-airflow/airflow-provider-isendpro"
    links = re.findall(r"\]\(([^)]+)\)", description)
    assert len(links) == len(re.findall(r"\]\(([^)]+)\)", readme)) > 0
    assert [link for link in links if not link.startswith("https://")] == []
    assert f"[docs/deployment.md]({repo}/blob/main/docs/deployment.md)" in description
    assert f"[CHANGELOG.md]({repo}/blob/main/CHANGELOG.md)" in description
    assert f"[Support]({repo}#support)" in description
    # Apart from the links, it is the README as written.
    assert re.sub(r"\]\([^)]+\)", "]()", description).strip() == re.sub(r"\]\([^)]+\)", "]()", readme).strip()


def test_sdist_holds_sources_tests_and_licence_but_no_local_state(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for wanted in (
        "LICENSE",
        "NOTICE",
        "README.md",
        "pyproject.toml",
        f"{PACKAGE}/py.typed",
        "tests/conftest.py",
    ):
        assert wanted in names, wanted
    for unwanted in (".venv/", ".matrix/", ".git/", "bench/", "e2e/", ".demo/"):
        assert not [n for n in names if n.startswith(unwanted)], unwanted
