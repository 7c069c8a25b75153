"""Every parameter of each operator, sensor and notifier appears in its reference table in
docs/operators.md, and every name in the table is a parameter (or, in a row whose default is "Airflow's",
a parameter of Airflow's base class)."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from tests.docs.snippets import ROOT

#: The docs/operators.md heading whose first table documents the class.
TABLES = {
    "## `SendSmsOperator`": "airflow_provider_isendpro.operators.sms.SendSmsOperator",
    "## `HlrLookupOperator`": "airflow_provider_isendpro.operators.hlr.HlrLookupOperator",
    "## `CreditSensor`": "airflow_provider_isendpro.sensors.credit.CreditSensor",
    "## `SmsDeliverySensor`": "airflow_provider_isendpro.sensors.delivery.SmsDeliverySensor",
    "## `CampaignReportOperator`": "airflow_provider_isendpro.operators.reports.CampaignReportOperator",
    "## `IsendproNotifier` (SMS alerts)": "airflow_provider_isendpro.notifications.sms.IsendproNotifier",
}
BASE_ROW_DEFAULT = "Airflow's"


def table_rows(heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading`` (header and separator left out)."""
    lines = (ROOT / "docs" / "operators.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    assert rows, f"no table after {heading!r}"
    return rows[2:]


def documented(rows: list[list[str]]) -> tuple[set[str], set[str]]:
    """Names in the first column: (the operator's own, those in rows whose default is Airflow's)."""
    own, base = set(), set()
    for row in rows:
        if row[0].startswith("**"):  # a group's title row
            continue
        names = set(re.findall(r"`(\w+)`", row[0]))
        (base if row[1] == BASE_ROW_DEFAULT else own).update(names)
    return own, base


def parameters(path: str) -> set[str]:
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    return {
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


@pytest.mark.parametrize(("heading", "path"), TABLES.items(), ids=[h.split("`")[1] for h in TABLES])
def test_the_reference_table_lists_every_parameter(heading: str, path: str) -> None:
    own, base = documented(table_rows(heading))
    signature = parameters(path)
    assert sorted(signature - own - base) == []  # undocumented parameters
    assert sorted(own - signature) == []  # documented names that are no parameter
    assert sorted((base - signature) - {"poke_interval", "timeout", "mode", "soft_fail"}) == []
