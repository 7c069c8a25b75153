"""README.md's support table is the one the CI matrix (``.ci/matrix.py``) generates from its rows."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from types import ModuleType

from tests.packaging.conftest import ROOT


def matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_matrix", ROOT / ".ci" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_readme_support_table_matches_the_matrix() -> None:
    assert matrix().check_readme() == []


def test_matrix_covers_every_supported_minor_and_the_python_range() -> None:
    m = matrix()
    rows = {(r.airflow, r.python) for r in m.ROWS}
    # Every supported combination, each in CI: Airflow 3.1-3.3 x Python 3.11-3.13.
    assert rows == {(a, p) for a in ("3.1", "3.2", "3.3") for p in ("3.11", "3.12", "3.13")}
    assert len(m.ROWS) == 9
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert project["dependencies"][0] == "apache-airflow>=3.1,<4"
    claimed = {c.rsplit(" ", 1)[1] for c in project["classifiers"] if re.fullmatch(r".*:: 3\.\d+", c)}
    tested = {python for _, python in rows}
    assert tested == claimed == {"3.11", "3.12", "3.13"}
    table = m.support_table()
    assert "| 3.3 (tested on 3.3.2) | 3.11, 3.12, 3.13 |" in table
    assert "| 3.2 (tested on 3.2.2) | 3.11, 3.12, 3.13 |" in table
    assert "| 3.1 (tested on 3.1.8) | 3.11, 3.12, 3.13 |" in table
