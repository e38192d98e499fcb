from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from reko.stack import create_database
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate


@pytest.fixture
async def database_url(postgres_server_url: str, unique_name: str) -> str:
    return await create_database(postgres_server_url, unique_name)


@pytest.fixture
async def platform_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh schema holding only the inbox and the outbox."""
    pool = await create_pool(database_url, "platform", size=3)
    await migrate(pool, "platform", PLATFORM_MIGRATIONS)
    yield pool
    await pool.close()
