"""The plugin as Airflow sees it: ``airflow plugins`` (the real CLI, in a fresh AIRFLOW_HOME) lists it with
its FastAPI app under ``/isendpro``; the provider info names the same class."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_airflow_plugins_lists_the_receiver(tmp_path: Path) -> None:
    airflow = Path(sys.executable).with_name("airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run(
        [str(airflow), "plugins", "--output", "json"],
        capture_output=True, text=True, check=True, timeout=120, env=env, cwd=tmp_path,
    ).stdout  # fmt: skip
    plugins = json.loads(out[out.index("[") :])
    [ours] = [p for p in plugins if p["name"] == "isendpro_receipts"]
    assert ours["fastapi_apps"] == [
        {
            "app": "fastapi.applications.FastAPI",
            "url_prefix": "/isendpro",
            "name": "iSendPro delivery receipts",
        }
    ]
    assert ours["source"].startswith("airflow-provider-isendpro==")
    assert "airflow_provider_isendpro.receipts.plugin:IsendproReceiptsPlugin" in ours["source"]


def test_provider_info_names_the_same_plugin() -> None:
    from importlib import import_module

    from airflow.providers_manager import ProvidersManager

    from airflow_provider_isendpro.get_provider_info import get_provider_info
    from airflow_provider_isendpro.receipts.plugin import IsendproReceiptsPlugin

    [entry] = get_provider_info()["plugins"]
    assert entry == {
        "name": "isendpro_receipts",
        "plugin-class": "airflow_provider_isendpro.receipts.plugin.IsendproReceiptsPlugin",
    }
    module, name = entry["plugin-class"].rsplit(".", 1)
    assert getattr(import_module(module), name) is IsendproReceiptsPlugin
    assert IsendproReceiptsPlugin.name == entry["name"]
    found = [p for p in ProvidersManager().plugins if p.provider_name == "airflow-provider-isendpro"]
    assert [(p.name, p.plugin_class) for p in found] == [(entry["name"], entry["plugin-class"])]
    options = get_provider_info()["config"]["isendpro"]["options"]
    assert options["dlr_secret"]["sensitive"] is True
    assert {k for k in options if k.startswith("dlr_")} == {
        "dlr_secret",
        "dlr_allowed_networks",
        "dlr_method",
        "dlr_number_param",
        "dlr_status_param",
        "dlr_tracker_param",
        "dlr_statuses",
    }
