"""Stats' count API against the real PostgreSQL: bad input is a client error, never a 500 or an echo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.stats.api import router
from services.stats.app import MIGRATIONS
from services.stats.settings import StatsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM, Clock, FixedClock
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers

pytestmark = pytest.mark.integration

SECRET = "stats-test-secret-not-for-production-0123456789"
CLOCK = FixedClock(datetime.combine(date(2026, 3, 15), time(12), tzinfo=STOCKHOLM))
REGION = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-9000', [Role.REGIONKONTOR])}"}


@dataclass
class RuntimeStandIn:
    pool: asyncpg.Pool
    clock: Clock


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    pool = await create_pool(database_url, "stats", size=2)
    await migrate(pool, "stats", PLATFORM_MIGRATIONS, MIGRATIONS)
    app = FastAPI()
    install_error_answers(app)
    app.include_router(router(RuntimeStandIn(pool, CLOCK), StatsSettings(auth=AuthSettings(jwt_secret=SECRET))))  # type: ignore[arg-type]  # why: the router uses only the pool and the clock
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stats") as http:
        yield http
    await pool.close()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/units/%00/ongoing", {}),
        ("/units/SE2321000000-1001/ongoing", {"on": "9999-12-31"}),
        ("/ongoing", {"on": "0001-01-01"}),
        ("/ongoing", {"on": "19800124-9286"}),
    ],
    ids=["NUL unit", "year 9999", "year 1", "personnummer as date"],
)
async def test_bad_input_to_the_counts_is_unprocessable_and_echoes_nothing(client, path, params):
    response = await client.get(path, params=params, headers=REGION)

    assert response.status_code == 422, response.text
    assert "9286" not in response.text


async def test_the_regional_office_still_reads_the_counts_of_a_unit(client):
    response = await client.get("/units/SE2321000000-1001/ongoing", params={"on": "2026-03-15"}, headers=REGION)
    assert response.status_code == 200
    # No cases: zeros, which hide nobody.
    assert (response.json()["total"], response.json()["suppressed"]) == (0, [])
