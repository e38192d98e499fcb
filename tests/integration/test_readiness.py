"""Readiness answers promptly while the database hangs, against the real PostgreSQL behind a proxy."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from services.intake.app import MIGRATIONS
from services.intake.settings import IntakeSettings
from shared.db import create_pool
from shared.service import ServiceRuntime

pytestmark = pytest.mark.integration


class FreezableProxy:
    """A TCP proxy to PostgreSQL that can stop forwarding, as a stopped (SIGSTOP) server behaves."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.frozen = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if self.frozen.is_set():
                    await asyncio.Event().wait()  # hold the bytes for good
                writer.write(data)
                await writer.drain()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.frozen.is_set():
            await asyncio.Event().wait()
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def proxied_database_url(database_url: str) -> AsyncIterator[tuple[str, FreezableProxy]]:
    parts = urlsplit(database_url)
    proxy = FreezableProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{proxy.port}"
    yield urlunsplit(parts._replace(netloc=netloc)), proxy
    await proxy.stop()


async def test_readiness_and_metrics_answer_within_a_second_while_the_database_hangs(proxied_database_url):
    url, proxy = proxied_database_url
    settings = IntakeSettings(database_url=url, pseudonym_key="not-used-here")  # type: ignore[arg-type]  # why: pydantic turns the text into a SecretStr
    runtime = ServiceRuntime("intake", settings, MIGRATIONS, description="readiness under test")
    app = runtime.http_app()
    pool = await create_pool(url, "intake", size=2)
    # The lifespan would also start the broker and the relay; readiness needs only the pool.
    runtime._pool = pool
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
            assert (await runtime.is_ready())["database"] is True
            proxy.frozen.set()

            started = time.monotonic()
            response = await client.get("/health/ready")
            elapsed = time.monotonic() - started
            started = time.monotonic()
            metrics = await client.get("/metrics")
            metrics_elapsed = time.monotonic() - started

        assert response.status_code == 503
        assert response.json()["database"] is False
        assert elapsed < 1.5
        # The backlog gauge asks the database too, within the same bound.
        assert metrics.status_code == 200
        assert metrics_elapsed < 1.5
    finally:
        pool.terminate()
