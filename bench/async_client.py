"""CPU cost of creating an async client: ``AsyncIsendproClient`` (one shared TLS context per process)
vs a plain ``httpx.AsyncClient()``, which loads the CA bundle each time.

The triggerer creates a client per deferred sensor poll and per async alert, on its event loop: what a
client costs to create is time that loop is blocked.

    .venv/bin/python bench/async_client.py          # 500 clients each
    .venv/bin/python bench/async_client.py --n 50   # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from airflow_provider_isendpro.client import AsyncIsendproClient, ClientConfig

# Nothing is sent: the clients are created and closed only.
CONFIG = ClientConfig(api_key="bench-fake-keyid", base_url="http://127.0.0.1:9/cgi-bin")


def cpu_ms_per_client(make: Callable[[], Any], n: int) -> float:
    async def run() -> float:
        started = time.process_time()
        for _ in range(n):
            client = make()
            await client.aclose()
        return (time.process_time() - started) / n * 1000

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="clients created of each kind")
    n = parser.parse_args().n
    cpu_ms_per_client(lambda: AsyncIsendproClient(CONFIG), 1)  # the shared context, built once
    ours = cpu_ms_per_client(lambda: AsyncIsendproClient(CONFIG), n)
    plain = cpu_ms_per_client(httpx.AsyncClient, n)
    print(f"AsyncIsendproClient:  {ours:6.2f} ms CPU per client ({n} clients)")
    print(f"httpx.AsyncClient():  {plain:6.2f} ms CPU per client ({n} clients)")
    print(f"ratio: {plain / ours:.0f}x")


if __name__ == "__main__":
    main()
