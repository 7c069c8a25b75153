"""The provider's own delivery-receipt receiver, served on loopback for DAG tests.

On a deployment, the receiver is a FastAPI app the plugin mounts on the Airflow API server under
``/isendpro`` (``receipts/app.py``). ``dag.test()`` has no API server, so this serves the same app, mounted
the same way, with uvicorn in a daemon thread of the test process: the emulator's ``dlr_url`` points at it,
and the receipts it stores land where the run's ``[isendpro] ledger_path`` says, since the receiver reads
its settings at each request. ``SmsDeliverySensor(source="receipts")`` then sees them as it would on a
deployment.

The secret is Airflow's ``[isendpro] dlr_secret``: set it (``AIRFLOW__ISENDPRO__DLR_SECRET``) to
:attr:`ReceiptsReceiver.secret` while the receiver serves; the ``isendpro_receipts_receiver`` fixture does.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

#: A fake secret in the shape the receiver accepts (16+ URL-safe characters).
DEFAULT_SECRET = "FAKE-test-dlr-secret-0123456789"  # noqa: S105 (a test double's fake)
SECRET_ENV = "AIRFLOW__ISENDPRO__DLR_SECRET"  # noqa: S105 (a variable name)


class ReceiptsReceiver:
    """``with ReceiptsReceiver() as receiver:`` then ``receiver.dlr_url`` for the emulator."""

    def __init__(self, secret: str = DEFAULT_SECRET, host: str = "127.0.0.1") -> None:
        self.secret = secret
        self.host = host
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port = 0

    def start(self) -> str:
        """Serve on a free loopback port; returns :attr:`dlr_url` once the server accepts connections."""
        if self._server is not None:
            return self.dlr_url
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Mount

        from airflow_provider_isendpro.receipts.app import create_app

        ready = threading.Event()

        class _Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                ready.set()

        mounted = Starlette(routes=[Mount("/isendpro", create_app())])  # as the API server mounts it
        config = uvicorn.Config(mounted, log_level="warning", lifespan="off", access_log=False)
        server = _Server(config)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        self._port = sock.getsockname()[1]
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="isendpro-receipts-receiver", daemon=True
        )
        thread.start()
        if not ready.wait(30):
            server.should_exit = True
            raise RuntimeError("the receipts receiver did not start within 30 s")
        self._server, self._thread = server, thread
        return self.dlr_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> ReceiptsReceiver:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def dlr_url(self) -> str:
        """``http://127.0.0.1:PORT/isendpro/dlr/<secret>``: the URL iSendPro's customer area would hold."""
        if self._server is None and not self._port:
            raise RuntimeError("the receiver is not started: call start() or use it as a context manager")
        return f"http://{self.host}:{self._port}/isendpro/dlr/{self.secret}"
