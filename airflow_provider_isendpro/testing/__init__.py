"""A local iSendPro emulator for the demo, the tests, the benchmarks and users' own DAG tests.

Usage::

    from airflow_provider_isendpro.testing import IsendproEmulator

    with IsendproEmulator() as emu:
        os.environ["AIRFLOW_CONN_ISENDPRO_DEFAULT"] = emu.connection_json()
        ...  # run the code under test
        assert emu.sent[0].tel == "0612345678"

or ``python -m airflow_provider_isendpro.testing --port 8025``, or the pytest fixtures
``isendpro_emulator`` / ``isendpro_emulator_server`` (installed with the package). It never delivers
anything. The server modules load lazily: pytest imports this package for every user of the plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import (
    DEFAULT_API_KEY,
    DLR_MIX_REALISTIC,
    MAGIC_BLACKLISTED,
    MAGIC_DLR_EXPIRED,
    MAGIC_DLR_FAILED,
    MAGIC_DLR_NONE,
    MAGIC_HANG,
    MAGIC_HTTP_400,
    MAGIC_HTTP_429,
    MAGIC_HTTP_500,
    MAGIC_NUMBERS,
    MAGIC_UNASSIGNED,
    EmulatorConfig,
)

if TYPE_CHECKING:
    from .dlr import Receipt
    from .dlr_sender import DlrCall
    from .emulator import IsendproEmulator
    from .receipts_server import ReceiptsReceiver
    from .recorder import DlrRecorder, RecordedRequest
    from .state import ReceivedRequest, SentSms

__all__ = [
    "DEFAULT_API_KEY",
    "DLR_MIX_REALISTIC",
    "MAGIC_BLACKLISTED",
    "MAGIC_DLR_EXPIRED",
    "MAGIC_DLR_FAILED",
    "MAGIC_DLR_NONE",
    "MAGIC_HANG",
    "MAGIC_HTTP_400",
    "MAGIC_HTTP_429",
    "MAGIC_HTTP_500",
    "MAGIC_NUMBERS",
    "MAGIC_UNASSIGNED",
    "DlrCall",
    "DlrRecorder",
    "EmulatorConfig",
    "IsendproEmulator",
    "Receipt",
    "ReceiptsReceiver",
    "ReceivedRequest",
    "RecordedRequest",
    "SentSms",
]

_LAZY = {
    "DlrCall": "dlr_sender",
    "DlrRecorder": "recorder",
    "IsendproEmulator": "emulator",
    "Receipt": "dlr",
    "ReceiptsReceiver": "receipts_server",
    "RecordedRequest": "recorder",
    "ReceivedRequest": "state",
    "SentSms": "state",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
