"""Every difference between the Airflow versions we support (3.1, 3.2, 3.3), in one place.

Code elsewhere imports these names from here, never with its own ``try/except ImportError``, so that the
day a floor moves, one module shrinks. Each shim says which version needs it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "conf",
    "dagbag_module",
    "legacy_connection_form_widgets",
    "legacy_ui_field_behaviour",
]

try:  # task-sdk >= 1.2 (Airflow 3.2+)
    from airflow.sdk.configuration import conf as _conf
except ImportError:  # Airflow 3.1 (task-sdk 1.1): common-compat re-exports the core configuration
    from airflow.providers.common.compat.sdk import conf as _conf

try:  # task-sdk >= 1.2
    from airflow.sdk.exceptions import AirflowSensorTimeout as _SensorTimeout
    from airflow.sdk.exceptions import AirflowSkipException as _Skip
except ImportError:  # Airflow 3.1
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout as _SensorTimeout
    from airflow.providers.common.compat.sdk import AirflowSkipException as _Skip

#: Airflow's configuration (``airflow.cfg`` and ``AIRFLOW__SECTION__KEY`` variables).
conf: Any = _conf
#: Raise it to end a task as skipped.
AirflowSkipException: type[Exception] = _Skip
#: A sensor's timeout (``soft_fail`` turns it into a skip).
AirflowSensorTimeout: type[Exception] = _SensorTimeout


def dagbag_module() -> Any:
    """Where ``DagBag``, ``BundleDagBag`` and ``sync_bag_to_db`` live (moved in Airflow 3.2).

    Only the testing kit (``testing/dagtest.py``) and the test suite use these DAG-processor internals.
    """
    import importlib

    try:  # Airflow 3.2+
        return importlib.import_module("airflow.dag_processing.dagbag")
    except ImportError:  # Airflow 3.1
        return importlib.import_module("airflow.models.dagbag")


def legacy_ui_field_behaviour() -> dict[str, Any]:
    """The standard fields' behaviour for Airflow 3.1's connection form, from ``get_provider_info``.

    Provider info spells the keys ``hidden-fields``; the hook method that 3.1 calls must return
    ``hidden_fields`` (3.1 validates it and otherwise ignores the whole behaviour).
    """
    from airflow_provider_isendpro.get_provider_info import get_provider_info

    behaviour: dict[str, Any] = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    return {key.replace("-", "_"): value for key, value in behaviour.items()}


def legacy_connection_form_widgets() -> dict[str, Any]:
    """The connection form's extra fields for Airflow 3.1, which builds it from the hook's widgets (3.2+
    reads the declarative ``conn-fields`` of ``get_provider_info`` instead).

    Text and boolean fields only: 3.1's API server mocks WTForms with string, integer, password and boolean
    fields and drops a hook's whole form (the connection type vanishes from the UI) when one field has
    another class, such as ``FloatField``. The timeouts are therefore text fields; the hook reads them as
    numbers and names a bad value.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, StringField

    return {
        "sender": StringField(lazy_gettext("Default sender (emetteur)"), widget=BS3TextFieldWidget()),
        "connect_timeout": StringField(lazy_gettext("Connect timeout (s)"), widget=BS3TextFieldWidget()),
        "read_timeout": StringField(lazy_gettext("Read timeout (s)"), widget=BS3TextFieldWidget()),
        "sandbox": BooleanField(lazy_gettext("Sandbox mode")),
    }
