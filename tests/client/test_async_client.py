"""What only the async client has to get right: it shares one event loop with other work.

Every operation, quirk, error and retry scenario already runs on the async client too (the ``client``
fixture of the other files is parametrized over both transports); these tests cover concurrency,
non-blocking waits, cancellation and the injected asyncio sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_isendpro.client import AsyncIsendproClient, ClientConfig, RetryPolicy
from airflow_provider_isendpro.errors import IsendproTransportError
from airflow_provider_isendpro.testing import IsendproEmulator

NO_RETRY = RetryPolicy(max_attempts=1)


def config(emu: IsendproEmulator, **overrides: Any) -> ClientConfig:
    settings: dict[str, Any] = {"api_key": emu.api_key, "base_url": emu.base_url, "retry": NO_RETRY}
    return ClientConfig(**{**settings, **overrides})


def test_concurrent_calls_on_one_client(isendpro_emulator: IsendproEmulator) -> None:
    emu = isendpro_emulator
    numbers = [f"06123456{i:02d}" for i in range(10)]

    async def main() -> list[Any]:
        async with AsyncIsendproClient(config(emu)) as client:
            return await asyncio.gather(
                *(client.send_sms(n, f"Hello {i}") for i, n in enumerate(numbers)), client.get_credit()
            )

    *sends, credit = asyncio.run(main())

    assert [s.recipients[0].number for s in sends] == numbers
    assert sorted(s.tel for s in emu.sent) == numbers
    assert len(emu.requests) == 11
    assert 99.5 <= credit.euros <= 100.0  # read while the sends were in flight


def test_a_hanging_call_does_not_block_the_event_loop(isendpro_emulator: IsendproEmulator) -> None:
    emu = isendpro_emulator
    emu.inject("hang", "/credit")

    async def main() -> tuple[Any, bool, BaseException | None]:
        async with AsyncIsendproClient(config(emu, read_timeout=20)) as client:
            stuck = asyncio.create_task(client.get_credit())
            assert await asyncio.to_thread(emu.wait_hanging, 1)
            count = await client.count_message("0612345678", "Bonjour")  # served meanwhile
            still_waiting = not stuck.done()
            emu.release_hangs()  # the server closes the held connection without an answer
            error = await asyncio.gather(stuck, return_exceptions=True)
            return count, still_waiting, error[0]

    count, still_waiting, error = asyncio.run(main())

    assert (count.characters, count.segments) == (7, 1)
    assert still_waiting
    assert type(error) is IsendproTransportError
    assert error.message == "getCredit (POST /credit): connection lost (connection closed before the answer)"


def test_cancelling_a_call_cancels_it_without_retrying(isendpro_emulator: IsendproEmulator) -> None:
    emu = isendpro_emulator
    emu.inject("hang_after_accept", "/sms")
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> None:
        policy = RetryPolicy(jitter=False)
        async with AsyncIsendproClient(config(emu, retry=policy, read_timeout=20), sleep=record) as client:
            task = asyncio.create_task(client.send_sms("0612345678", "Alerte"))
            assert await asyncio.to_thread(emu.wait_hanging, 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())

    assert (len(emu.requests), len(emu.sent), sleeps) == (1, 1, [])


def test_the_retry_wait_is_the_injected_coroutine_awaited_on_the_callers_loop(
    isendpro_emulator: IsendproEmulator,
) -> None:
    emu = isendpro_emulator
    emu.inject("http_503", "/credit", times=2)
    waits: list[tuple[float, asyncio.AbstractEventLoop]] = []

    async def sleep(seconds: float) -> None:
        waits.append((seconds, asyncio.get_running_loop()))

    async def main() -> tuple[float, asyncio.AbstractEventLoop]:
        async with AsyncIsendproClient(config(emu, retry=RetryPolicy(jitter=False)), sleep=sleep) as client:
            return (await client.get_credit()).euros, asyncio.get_running_loop()

    euros, loop = asyncio.run(main())

    assert euros == 100.0
    assert waits == [(0.5, loop), (1.0, loop)]
    assert len(emu.requests) == 3


def test_the_client_closes_its_http_pool(isendpro_emulator: IsendproEmulator) -> None:
    async def main() -> tuple[AsyncIsendproClient, bool]:
        client = AsyncIsendproClient(config(isendpro_emulator))
        async with client:
            await client.get_credit()
            was_open = not client._http.is_closed
        return client, was_open

    client, was_open = asyncio.run(main())
    assert was_open
    assert client._http.is_closed
    assert repr(client) == f"AsyncIsendproClient(base_url={isendpro_emulator.base_url!r})"


def test_clients_share_one_verifying_tls_context(
    isendpro_emulator: IsendproEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CA bundle costs ~30 ms of CPU: built once per process and CA setting, not per client
    (the triggerer creates a client per poll or alert, on its event loop)."""
    import ssl

    import certifi
    import httpx

    from airflow_provider_isendpro.client.aio import tls_context

    given: list[Any] = []

    class Recording(httpx.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            given.append(kwargs.get("verify"))
            super().__init__(**kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", Recording)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    async def two_clients() -> None:
        for _ in range(2):
            async with AsyncIsendproClient(config(isendpro_emulator)) as client:
                await client.get_credit()

    asyncio.run(two_clients())
    first, second = given
    assert first is second
    assert isinstance(first, ssl.SSLContext)
    assert (first.verify_mode, first.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert first.cert_store_stats()["x509_ca"] > 0  # a CA bundle was loaded
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert tls_context() is not first  # another CA setting, another context
