"""Every difference between the Airflow versions we support (3.1, 3.2, 3.3), in one place.

Code elsewhere imports these names from here, never with its own ``try/except ImportError``, so that the
day a floor moves, one module shrinks. Each shim says which version needs it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AirflowSkipException", "conf"]

try:  # task-sdk >= 1.2 (Airflow 3.2+)
    from airflow.sdk.configuration import conf as _conf
except ImportError:  # Airflow 3.1 (task-sdk 1.1): common-compat re-exports the core configuration
    from airflow.providers.common.compat.sdk import conf as _conf

try:  # task-sdk >= 1.2
    from airflow.sdk.exceptions import AirflowSkipException as _Skip
except ImportError:  # Airflow 3.1
    from airflow.providers.common.compat.sdk import AirflowSkipException as _Skip

#: Airflow's configuration (``airflow.cfg`` and ``AIRFLOW__SECTION__KEY`` variables).
conf: Any = _conf
#: Raise it to end a task as skipped.
AirflowSkipException: type[Exception] = _Skip
