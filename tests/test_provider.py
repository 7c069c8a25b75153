"""Registration with Airflow: discovery, connection type, and the connection form the API server serves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airflow_provider_isendpro.get_provider_info import get_provider_info


def test_package_name_is_the_canonical_distribution_name() -> None:
    from importlib.metadata import distribution

    assert get_provider_info()["package-name"] == distribution("airflow-provider-isendpro").name


def test_providers_manager_discovers_the_provider_and_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    from tests.compat import provider_hooks

    assert "airflow-provider-isendpro" in ProvidersManager().providers
    hooks = provider_hooks()
    assert "isendpro" in hooks
    assert hooks["isendpro"].hook_class_name == "airflow_provider_isendpro.hooks.isendpro.IsendproHook"
    assert hooks["isendpro"].connection_id_attribute_name == "isendpro_conn_id"


def test_connection_form_metadata_as_served_by_the_api_server() -> None:
    from tests.compat import airflow_version

    # In a fresh process, as the API server builds it (its providers registry is a per-process singleton).
    code = (
        "import json\n"
        "from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService\n"
        "metas = {m.connection_type: m for m in HookMetaService.hook_meta_data()}\n"
        "print(json.dumps(metas['isendpro'].model_dump(), default=str))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    meta = json.loads(out.stdout.strip().splitlines()[-1])
    assert meta["hook_name"] == "iSendPro SMS"
    standard = meta["standard_fields"]
    assert standard["host"]["title"] == "API base URL"
    assert standard["host"]["placeholder"] == "https://apirest.isendpro.com/cgi-bin"
    assert standard["password"]["title"] == "API key (keyid)"
    for hidden in ("url_schema", "port", "login"):
        assert standard[hidden]["hidden"] is True
    extra = meta["extra_fields"]
    assert set(extra) == {"sender", "connect_timeout", "read_timeout", "sandbox"}
    assert extra["sandbox"]["schema"]["type"] == ["boolean", "null"]
    if airflow_version() >= (3, 2):  # the declarative form of get_provider_info ("conn-fields")
        assert extra["sender"]["schema"]["maxLength"] == 11
        assert extra["read_timeout"]["value"] == 30
        assert extra["connect_timeout"]["value"] == 5
    else:  # 3.1: the hook's widgets (text fields; the hook reads the timeouts as numbers)
        assert extra["sender"]["schema"] == {"title": "Default sender (emetteur)", "type": ["string", "null"]}
        assert extra["read_timeout"]["schema"] == {"title": "Read timeout (s)", "type": ["string", "null"]}


def test_every_class_path_in_provider_info_imports() -> None:
    import importlib

    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    for path in info["notifications"]:
        module, name = path.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name).__name__ == name
    hook = info["connection-types"][0]["hook-class-name"].rsplit(".", 1)
    assert getattr(importlib.import_module(hook[0]), hook[1]).conn_type == "isendpro"


def test_airflow_providers_list_cli_shows_the_provider() -> None:
    airflow = Path(sys.executable).with_name("airflow")
    out = subprocess.run(
        [str(airflow), "providers", "list", "-o", "plain"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert "airflow-provider-isendpro" in out


def test_hook_module_import_is_light() -> None:
    """Importing the hook pulls in neither phonenumbers, httpx's client, nor the emulator."""
    code = (
        "import sys, airflow.sdk; before = set(sys.modules);"
        "import airflow_provider_isendpro.hooks.isendpro;"
        "new = set(sys.modules) - before;"
        "bad = sorted(m for m in new if m.split('.')[0] in {'phonenumbers'} or 'testing' in m);"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hook_field_behaviour_has_the_keys_airflow_validates() -> None:
    # Airflow 3.1 reads the form from the hook and ignores a behaviour whose keys it does not know.
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    assert IsendproHook.get_ui_field_behaviour() == {
        "hidden_fields": ["schema", "port", "login"],
        "relabeling": {"host": "API base URL", "password": "API key (keyid)"},
        "placeholders": {
            "host": "https://apirest.isendpro.com/cgi-bin",
            "password": "Mon compte → Mon API → keyid",
        },
    }
