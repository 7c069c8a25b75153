"""The Airflow plugin that mounts the delivery-receipt receiver on the API server at ``/isendpro``.

Registered through the provider's ``get_provider_info()["plugins"]``, so installing the provider is
enough: ``airflow plugins`` lists it. Airflow reads ``fastapi_apps`` from the class, so the app is built
when this module is imported (by any component that loads plugins); that costs no I/O, and FastAPI comes
with every Airflow 3 installation (``apache-airflow-core`` depends on it). Settings are read per
request, not here.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_isendpro.receipts.app import app

#: The mount point: the callback URL is ``https://<api-server>/isendpro/dlr/<secret>``.
URL_PREFIX = "/isendpro"


class IsendproReceiptsPlugin(AirflowPlugin):
    """iSendPro's delivery-report callbacks, received at ``/isendpro/dlr/<secret>``."""

    name = "isendpro_receipts"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "iSendPro delivery receipts"}]  # noqa: RUF012
